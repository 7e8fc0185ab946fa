//! The provisioning file read by `tentacle apply -f tentacle.toml`: credentials and integration
//! configurations, with `${NAME}` values read from the environment.
//!
//! A bad file is refused whole, every problem named with its line and field, so nothing is
//! half-applied.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;
use tentacle_store::NewCredential;
use toml::Spanned;

/// One problem in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub line: usize,
    /// Dotted path, e.g. `integrations[0].settings.frequency_minutes`.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.message)
    }
}

/// An integration as the file names it; credentials are referenced by name.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationEntry {
    pub name: String,
    pub kind: String,
    pub origin: String,
    pub destination: String,
    /// Validated settings, every default filled in.
    pub settings: Value,
}

#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub credentials: Vec<NewCredential>,
    pub integrations: Vec<IntegrationEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    credentials: Vec<Spanned<RawCredential>>,
    #[serde(default)]
    integrations: Vec<Spanned<RawIntegration>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredential {
    name: Spanned<String>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    shop_url: Option<Spanned<String>>,
    access_token: Option<Spanned<String>>,
    api_version: Option<Spanned<String>>,
    webhook_secret: Option<Spanned<String>>,
    base_url: Option<Spanned<String>>,
    username: Option<Spanned<String>>,
    password: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntegration {
    name: Spanned<String>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    origin: Spanned<String>,
    destination: Spanned<String>,
    #[serde(default)]
    settings: BTreeMap<Spanned<String>, toml::Value>,
}

/// Line number (1-based) of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

struct Reader<'a> {
    text: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<ConfigError>,
}

impl Reader<'_> {
    fn error(&mut self, offset: usize, field: String, message: impl Into<String>) {
        let line = line_of(self.text, offset);
        self.errors.push(ConfigError {
            line,
            field,
            message: message.into(),
        });
    }

    /// The value with every `${NAME}` replaced from the environment.
    fn expand(&mut self, value: &Spanned<String>, field: &str) -> String {
        let raw = value.get_ref();
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                self.error(
                    value.span().start,
                    field.to_string(),
                    "unclosed ${ in value",
                );
                return out;
            };
            let name = &after[..end];
            match (self.env)(name) {
                Some(found) => out.push_str(&found),
                None => self.error(
                    value.span().start,
                    field.to_string(),
                    format!("environment variable {name} is not set"),
                ),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn required(&mut self, value: &Option<Spanned<String>>, field: &str, at: usize) -> String {
        match value {
            Some(value) => {
                let expanded = self.expand(value, field);
                if expanded.trim().is_empty() {
                    self.error(value.span().start, field.to_string(), "must not be empty");
                }
                expanded
            }
            None => {
                self.error(at, field.to_string(), "is required");
                String::new()
            }
        }
    }

    fn url(&mut self, value: &Option<Spanned<String>>, field: &str, at: usize) -> String {
        let url = self.required(value, field, at);
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            let offset = value.as_ref().map_or(at, |v| v.span().start);
            self.error(
                offset,
                field.to_string(),
                format!("{url:?} must start with http:// or https://"),
            );
        }
        url.trim_end_matches('/').to_string()
    }

    fn forbid(&mut self, value: &Option<Spanned<String>>, field: &str, kind: &str) {
        if let Some(value) = value {
            self.error(
                value.span().start,
                field.to_string(),
                format!("is not a setting of {kind} credentials"),
            );
        }
    }

    fn credential(
        &mut self,
        index: usize,
        spanned: &Spanned<RawCredential>,
    ) -> Option<NewCredential> {
        let raw = spanned.get_ref();
        let at = spanned.span().start;
        let path = |f: &str| format!("credentials[{index}].{f}");
        let name = raw.name.get_ref().trim().to_string();
        if name.is_empty() {
            self.error(raw.name.span().start, path("name"), "must not be empty");
        }
        match raw.kind.get_ref().as_str() {
            "shopify" => {
                let shop_url = self.url(&raw.shop_url, &path("shop_url"), at);
                let token = self.required(&raw.access_token, &path("access_token"), at);
                let api_version = match &raw.api_version {
                    Some(v) => self.expand(v, &path("api_version")),
                    None => "2026-10".to_string(),
                };
                if !is_api_version(&api_version) {
                    let offset = raw.api_version.as_ref().map_or(at, |v| v.span().start);
                    self.error(
                        offset,
                        path("api_version"),
                        format!("{api_version:?} is not a Shopify API version like 2026-10"),
                    );
                }
                for (value, field) in [
                    (&raw.base_url, "base_url"),
                    (&raw.username, "username"),
                    (&raw.password, "password"),
                ] {
                    self.forbid(value, &path(field), "shopify");
                }
                let mut credential = NewCredential::shopify(
                    name,
                    &shop_url,
                    &api_version,
                    SecretString::from(token),
                );
                if let Some(secret) = &raw.webhook_secret {
                    let secret = self.expand(secret, &path("webhook_secret"));
                    credential.secrets = credential
                        .secrets
                        .with("webhook_secret", SecretString::from(secret));
                }
                Some(credential)
            }
            "pulpo" => {
                let base_url = self.url(&raw.base_url, &path("base_url"), at);
                let username = self.required(&raw.username, &path("username"), at);
                let password = self.required(&raw.password, &path("password"), at);
                for (value, field) in [
                    (&raw.shop_url, "shop_url"),
                    (&raw.access_token, "access_token"),
                    (&raw.api_version, "api_version"),
                    (&raw.webhook_secret, "webhook_secret"),
                ] {
                    self.forbid(value, &path(field), "pulpo");
                }
                Some(NewCredential::pulpo(
                    name,
                    &base_url,
                    &username,
                    SecretString::from(password),
                ))
            }
            other => {
                self.error(
                    raw.kind.span().start,
                    path("type"),
                    format!("unknown credential type {other:?}: use \"shopify\" or \"pulpo\""),
                );
                None
            }
        }
    }

    fn integration(
        &mut self,
        index: usize,
        spanned: &Spanned<RawIntegration>,
    ) -> Option<IntegrationEntry> {
        let raw = spanned.get_ref();
        let path = |f: &str| format!("integrations[{index}].{f}");
        let name = raw.name.get_ref().trim().to_string();
        if name.is_empty() {
            self.error(raw.name.span().start, path("name"), "must not be empty");
        }
        let Some(kind) = tentacle_engine::find(raw.kind.get_ref()) else {
            let keys: Vec<String> = tentacle_engine::registry()
                .iter()
                .map(|k| format!("{:?}", k.key()))
                .collect();
            self.error(
                raw.kind.span().start,
                path("type"),
                format!(
                    "unknown integration type {:?}: use one of {}",
                    raw.kind.get_ref(),
                    keys.join(", ")
                ),
            );
            return None;
        };
        let settings_json: serde_json::Map<String, Value> = raw
            .settings
            .iter()
            .map(|(key, value)| {
                (
                    key.get_ref().clone(),
                    serde_json::to_value(value).unwrap_or(Value::Null),
                )
            })
            .collect();
        let line_of_setting = |field: &str| {
            raw.settings
                .keys()
                .find(|k| k.get_ref() == field)
                .map(|k| k.span().start)
        };
        // Every bad setting is reported, each on its own line.
        let settings = match kind.read_settings(&settings_json) {
            Ok(settings) => settings,
            Err(problems) => {
                for problem in problems {
                    let offset = line_of_setting(&problem.field).unwrap_or(spanned.span().start);
                    self.error(
                        offset,
                        path(&format!("settings.{}", problem.field)),
                        problem.message,
                    );
                }
                return None;
            }
        };
        Some(IntegrationEntry {
            name,
            kind: raw.kind.get_ref().clone(),
            origin: raw.origin.get_ref().clone(),
            destination: raw.destination.get_ref().clone(),
            settings,
        })
    }
}

fn is_api_version(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 7
        && bytes[4] == b'-'
        && value[..4].bytes().all(|b| b.is_ascii_digit())
        && value[5..].bytes().all(|b| b.is_ascii_digit())
        || value == "unstable"
}

/// Reads and checks the whole file. `env` answers `${NAME}` look-ups.
pub fn parse(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ConfigFile, Vec<ConfigError>> {
    let raw: RawFile = toml::from_str(text).map_err(|error| {
        let line = error.span().map_or(1, |span| line_of(text, span.start));
        vec![ConfigError {
            line,
            field: "file".into(),
            message: error.message().to_string(),
        }]
    })?;
    let mut reader = Reader {
        text,
        env,
        errors: Vec::new(),
    };
    let credentials: Vec<NewCredential> = raw
        .credentials
        .iter()
        .enumerate()
        .filter_map(|(i, c)| reader.credential(i, c))
        .collect();
    let integrations: Vec<IntegrationEntry> = raw
        .integrations
        .iter()
        .enumerate()
        .filter_map(|(i, c)| reader.integration(i, c))
        .collect();

    let mut seen = std::collections::HashSet::new();
    for (index, credential) in raw.credentials.iter().enumerate() {
        if !seen.insert(credential.get_ref().name.get_ref().clone()) {
            reader.error(
                credential.get_ref().name.span().start,
                format!("credentials[{index}].name"),
                "is used by another credential in this file",
            );
        }
    }
    for (index, spanned) in raw.integrations.iter().enumerate() {
        let integration = spanned.get_ref();
        let Some(declared) = tentacle_engine::find(integration.kind.get_ref()) else {
            continue;
        };
        for (field, reference, expected) in [
            ("origin", &integration.origin, declared.origin()),
            (
                "destination",
                &integration.destination,
                declared.destination(),
            ),
        ] {
            // A credential defined in this file must have the right type; one not in the file
            // may already be in the database, which `apply` checks.
            if let Some(found) = credentials.iter().find(|c| &c.name == reference.get_ref())
                && found.kind != expected
            {
                reader.error(
                    reference.span().start,
                    format!("integrations[{index}].{field}"),
                    format!(
                        "credential {:?} is {}, the {field} must be a {} credential",
                        found.name,
                        found.kind.as_str(),
                        expected.as_str()
                    ),
                );
            }
        }
    }
    if reader.errors.is_empty() {
        Ok(ConfigFile {
            credentials,
            integrations,
        })
    } else {
        reader.errors.sort_by_key(|e| e.line);
        Err(reader.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const GOOD: &str = r#"
[[credentials]]
name = "shop"
type = "shopify"
shop_url = "http://127.0.0.1:8201"
access_token = "${SHOPIFY_TOKEN}"

[[credentials]]
name = "wms"
type = "pulpo"
base_url = "http://127.0.0.1:8202/api/v1"
username = "sandbox_admin"
password = "sandbox"

[[integrations]]
name = "Sales orders"
type = "sales_orders"
origin = "shop"
destination = "wms"
[integrations.settings]
frequency_minutes = 5
required_tags = ["b2c"]
"#;

    fn env(name: &str) -> Option<String> {
        (name == "SHOPIFY_TOKEN").then(|| "shpat_from_env".to_string())
    }

    #[test]
    fn reads_credentials_integrations_and_environment_values() {
        let file = parse(GOOD, &env).unwrap();
        assert_eq!(file.credentials.len(), 2);
        let shop = &file.credentials[0];
        assert_eq!(shop.config["api_version"], "2026-10", "default API version");
        assert_eq!(
            shop.secrets.get("access_token").unwrap().expose_secret(),
            "shpat_from_env"
        );
        let integration = &file.integrations[0];
        assert_eq!(integration.settings["frequency_minutes"], 5);
        assert_eq!(
            integration.settings["initial_import_days"], 7,
            "omitted settings take their defaults"
        );
    }

    #[test]
    fn a_bad_file_names_every_problem_with_its_line() {
        let bad = GOOD
            .replace("frequency_minutes = 5", "frequency_minutes = 0")
            .replace("type = \"pulpo\"", "type = \"sap\"");
        let errors = parse(&bad, &|_| None).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            text.iter().any(|e| e.starts_with(
                "line 6: credentials[0].access_token: environment variable SHOPIFY_TOKEN is not set"
            )),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|e| e
                    .starts_with("line 10: credentials[1].type: unknown credential type \"sap\"")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|e| e
                .starts_with("line 21: integrations[0].settings.frequency_minutes:")
                && e.contains("between 1 and 60")),
            "{text:?}"
        );
    }

    #[test]
    fn unknown_settings_and_syntax_errors_are_refused() {
        let typo = GOOD.replace("required_tags", "required_tag");
        let errors = parse(&typo, &env).unwrap_err();
        assert_eq!(errors[0].line, 22, "{errors:?}");
        assert_eq!(
            errors[0].field, "integrations[0].settings.required_tag",
            "{errors:?}"
        );
        let mistyped = parse(
            &GOOD.replace("frequency_minutes = 5", "frequency_minutes = \"ten\""),
            &env,
        )
        .unwrap_err();
        assert_eq!(
            (mistyped[0].line, mistyped[0].field.as_str()),
            (21, "integrations[0].settings.frequency_minutes"),
            "{mistyped:?}"
        );
        let broken = parse("[[credentials]\nname = 1", &env).unwrap_err();
        assert_eq!(broken[0].field, "file");
    }
}
