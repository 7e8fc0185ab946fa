//! The provisioning file read by `tentacle apply -f tentacle.toml`: credentials, integration
//! configurations and alert channels, with `${NAME}` values read from the environment.
//!
//! A bad file is refused whole, every problem named with its line and field, so nothing is
//! half-applied.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;
use tentacle_domain::alerts::{
    ChannelTarget, DEFAULT_SMTP_PORT, DEFAULT_STALE_AFTER_HOURS, channel_name, stale_after_hours,
};
use tentacle_domain::endpoint::endpoint_url;
use tentacle_domain::limits;
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

/// An alert channel as the file names it; configurations are referenced by name.
#[derive(Debug, Clone)]
pub struct AlertEntry {
    pub name: String,
    pub target: ChannelTarget,
    pub password: Option<SecretString>,
    /// `None`: every configuration.
    pub integrations: Option<Vec<String>>,
    pub stale_after_hours: u32,
}

#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub credentials: Vec<NewCredential>,
    pub integrations: Vec<IntegrationEntry>,
    pub alerts: Vec<AlertEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    credentials: Vec<Spanned<RawCredential>>,
    #[serde(default)]
    integrations: Vec<Spanned<RawIntegration>>,
    #[serde(default)]
    alerts: Vec<Spanned<RawAlert>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    name: Spanned<String>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    url: Option<Spanned<String>>,
    smtp_host: Option<Spanned<String>>,
    smtp_port: Option<Spanned<i64>>,
    starttls: Option<Spanned<bool>>,
    username: Option<Spanned<String>>,
    password: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    to: Option<Spanned<Vec<Spanned<String>>>>,
    integrations: Option<Spanned<Vec<Spanned<String>>>>,
    stale_after_hours: Option<Spanned<i64>>,
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

/// The longest value of a field, by its last name: user names, secrets; the rest (URLs) have
/// their own checks, with this as an outer bound.
fn limit_of(field: &str) -> usize {
    match field.rsplit('.').next().unwrap_or(field) {
        "username" => limits::MAX_USERNAME_CHARS,
        _ => limits::MAX_SECRET_CHARS,
    }
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
                } else if let Err(problem) = limits::at_most(&expanded, limit_of(field)) {
                    self.error(value.span().start, field.to_string(), problem);
                }
                expanded
            }
            None => {
                self.error(at, field.to_string(), "is required");
                String::new()
            }
        }
    }

    /// A URL tentacle connects to, checked by the endpoint policy every outbound address
    /// follows.
    fn url(&mut self, value: &Option<Spanned<String>>, field: &str, at: usize) -> String {
        let url = self.required(value, field, at);
        if url.is_empty() {
            return url;
        }
        match endpoint_url(&url) {
            Ok(url) => url,
            Err(problem) => {
                let offset = value.as_ref().map_or(at, |v| v.span().start);
                self.error(offset, field.to_string(), problem);
                url
            }
        }
    }

    fn alert(&mut self, index: usize, spanned: &Spanned<RawAlert>) -> Option<AlertEntry> {
        let raw = spanned.get_ref();
        let at = spanned.span().start;
        let path = |f: &str| format!("alerts[{index}].{f}");
        let name = channel_name(raw.name.get_ref()).unwrap_or_else(|problem| {
            self.error(raw.name.span().start, path("name"), problem);
            String::new()
        });
        let offset_of = |field: &str| -> usize {
            let spans = [
                ("url", raw.url.as_ref().map(|v| v.span().start)),
                ("smtp_host", raw.smtp_host.as_ref().map(|v| v.span().start)),
                ("smtp_port", raw.smtp_port.as_ref().map(|v| v.span().start)),
                ("from", raw.from.as_ref().map(|v| v.span().start)),
                ("to", raw.to.as_ref().map(|v| v.span().start)),
            ];
            spans
                .iter()
                .find(|(name, _)| field.starts_with(name))
                .and_then(|(_, offset)| *offset)
                .unwrap_or(at)
        };
        let target = match raw.kind.get_ref().as_str() {
            "webhook" => {
                let url = self.required(&raw.url, &path("url"), at);
                for (value, field) in [
                    (&raw.smtp_host, "smtp_host"),
                    (&raw.username, "username"),
                    (&raw.password, "password"),
                    (&raw.from, "from"),
                ] {
                    if let Some(value) = value {
                        self.error(
                            value.span().start,
                            path(field),
                            "is not a setting of webhook alerts",
                        );
                    }
                }
                if raw.smtp_port.is_some() || raw.to.is_some() || raw.starttls.is_some() {
                    self.error(
                        at,
                        path("type"),
                        "webhook alerts take only url (smtp_port, starttls and to are email settings)",
                    );
                }
                ChannelTarget::Webhook { url }
            }
            "email" => {
                let smtp_host = self.required(&raw.smtp_host, &path("smtp_host"), at);
                let smtp_port = match &raw.smtp_port {
                    None => DEFAULT_SMTP_PORT,
                    Some(port) => u16::try_from(*port.get_ref())
                        .ok()
                        .filter(|p| *p > 0)
                        .unwrap_or_else(|| {
                            self.error(
                                port.span().start,
                                path("smtp_port"),
                                "must be a port between 1 and 65535 (587 for submission with STARTTLS)",
                            );
                            DEFAULT_SMTP_PORT
                        }),
                };
                let username = raw
                    .username
                    .as_ref()
                    .map(|u| self.expand(u, &path("username")));
                let from = self.required(&raw.from, &path("from"), at);
                let to = match &raw.to {
                    Some(to) => to
                        .get_ref()
                        .iter()
                        .map(|a| self.expand(a, &path("to")))
                        .collect(),
                    None => {
                        self.error(at, path("to"), "is required: a list of recipients");
                        vec!["-".to_string()]
                    }
                };
                if raw.url.is_some() {
                    self.error(at, path("url"), "is not a setting of email alerts");
                }
                ChannelTarget::Email {
                    smtp_host,
                    smtp_port,
                    starttls: raw.starttls.as_ref().is_none_or(|s| *s.get_ref()),
                    username,
                    from,
                    to,
                }
            }
            other => {
                self.error(
                    raw.kind.span().start,
                    path("type"),
                    format!("unknown alert type {other:?}: use \"webhook\" or \"email\""),
                );
                return None;
            }
        };
        // Every problem is reported: the other fields are checked whatever the target's are.
        let target = match target.validated() {
            Ok(target) => Some(target),
            Err(problems) => {
                for problem in problems {
                    self.error(
                        offset_of(&problem.field),
                        path(&problem.field),
                        problem.message,
                    );
                }
                None
            }
        };
        let password = raw.password.as_ref().map(|p| {
            let password = self.expand(p, &path("password"));
            if password.is_empty() {
                self.error(p.span().start, path("password"), "must not be empty");
            } else if let Err(problem) = limits::at_most(&password, limits::MAX_SECRET_CHARS) {
                self.error(p.span().start, path("password"), problem);
            }
            SecretString::from(password)
        });
        if password.is_some()
            && matches!(&target, Some(ChannelTarget::Email { username: None, .. }))
        {
            self.error(at, path("username"), "is required with a password");
        }
        let stale_after_hours = match &raw.stale_after_hours {
            None => DEFAULT_STALE_AFTER_HOURS,
            Some(hours) => stale_after_hours(*hours.get_ref()).unwrap_or_else(|problem| {
                self.error(hours.span().start, path("stale_after_hours"), problem);
                DEFAULT_STALE_AFTER_HOURS
            }),
        };
        let integrations = raw.integrations.as_ref().map(|names| {
            if names.get_ref().is_empty() {
                self.error(
                    names.span().start,
                    path("integrations"),
                    "must name at least one configuration (leave it out for all)",
                );
            }
            names
                .get_ref()
                .iter()
                .map(|n| n.get_ref().trim().to_string())
                .collect()
        });
        Some(AlertEntry {
            name,
            target: target?,
            password,
            integrations,
            stale_after_hours,
        })
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
        let name = match tentacle_domain::limits::name(raw.name.get_ref()) {
            Ok(name) => name,
            Err(problem) => {
                self.error(raw.name.span().start, path("name"), problem);
                String::new()
            }
        };
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
                    let at = secret.span().start;
                    let secret = self.expand(secret, &path("webhook_secret"));
                    if let Err(problem) = limits::at_most(&secret, limits::MAX_SECRET_CHARS) {
                        self.error(at, path("webhook_secret"), problem);
                    }
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
        let name = match tentacle_domain::limits::name(raw.name.get_ref()) {
            Ok(name) => name,
            Err(problem) => {
                self.error(raw.name.span().start, path("name"), problem);
                String::new()
            }
        };
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

/// The TOML type each field of an entry must have.
#[derive(Clone, Copy, PartialEq)]
enum Expected {
    String,
    Integer,
    Boolean,
    Strings,
    Table,
}

impl Expected {
    fn of(section: &str, key: &str) -> Option<Expected> {
        Some(match (section, key) {
            ("alerts", "smtp_port" | "stale_after_hours") => Expected::Integer,
            ("alerts", "starttls") => Expected::Boolean,
            ("alerts", "to" | "integrations") => Expected::Strings,
            ("integrations", "settings") => Expected::Table,
            // Unknown fields are named by the typed read below.
            ("credentials", "name" | "type" | "shop_url" | "access_token" | "api_version")
            | ("credentials", "webhook_secret" | "base_url" | "username" | "password")
            | ("integrations", "name" | "type" | "origin" | "destination")
            | ("alerts", "name" | "type" | "url" | "smtp_host" | "username" | "password")
            | ("alerts", "from") => Expected::String,
            _ => return None,
        })
    }

    fn words(self) -> &'static str {
        match self {
            Expected::String => "a string (in quotes)",
            Expected::Integer => "a whole number",
            Expected::Boolean => "true or false",
            Expected::Strings => "a list of strings",
            Expected::Table => "a table",
        }
    }

    /// A value of this type that stands in for a wrong one, so the rest of the file is still
    /// checked.
    fn placeholder(self) -> &'static str {
        match self {
            Expected::String => "\"\"",
            Expected::Integer => "0",
            Expected::Boolean => "false",
            Expected::Strings => "[]",
            Expected::Table => "{}",
        }
    }

    fn matches(self, value: &toml::de::DeValue<'_>) -> bool {
        use toml::de::DeValue;
        matches!(
            (self, value),
            (Expected::String, DeValue::String(_))
                | (Expected::Integer, DeValue::Integer(_))
                | (Expected::Boolean, DeValue::Boolean(_))
                | (Expected::Strings, DeValue::Array(_))
                | (Expected::Table, DeValue::Table(_))
        )
    }
}

/// A TOML kind in words, for "must be a string, not an integer".
fn kind_words(value: &toml::de::DeValue<'_>) -> &'static str {
    use toml::de::DeValue;
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a decimal number",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

/// Values of the wrong TOML type, each named with its line and field and the type it must
/// have, never its value (a numeric `password = 12345678` is a secret all the same). Returns
/// them and the text with each replaced by a stand-in of the right type, so the typed read
/// still finds the file's other problems.
fn type_problems(text: &str) -> (Vec<ConfigError>, String) {
    let Ok(document) = toml::de::DeTable::parse(text) else {
        // A syntax error: the typed read reports it.
        return (Vec::new(), text.to_string());
    };
    let mut problems = Vec::new();
    // (byte range, stand-in) of every wrong value.
    let mut replace: Vec<(std::ops::Range<usize>, &'static str)> = Vec::new();
    let wrong = |problems: &mut Vec<ConfigError>,
                 replace: &mut Vec<(std::ops::Range<usize>, &'static str)>,
                 span: std::ops::Range<usize>,
                 field: String,
                 expected: Expected,
                 found| {
        problems.push(ConfigError {
            line: line_of(text, span.start),
            field,
            message: format!("must be {}, not {found}", expected.words()),
        });
        replace.push((span, expected.placeholder()));
    };
    for (section, entries) in document.get_ref().iter() {
        let section = section.get_ref().as_ref();
        let Some(entries) = entries.get_ref().as_array() else {
            continue;
        };
        for (index, entry) in entries.iter().enumerate() {
            let Some(fields) = entry.get_ref().as_table() else {
                continue;
            };
            for (spanned_key, value) in fields.iter() {
                let key = spanned_key.get_ref().as_ref();
                let Some(expected) = Expected::of(section, key) else {
                    // A typo is named here, and the line taken out, so that it does not stop
                    // the typed read from naming the rest.
                    if matches!(section, "credentials" | "integrations" | "alerts") {
                        let span = spanned_key.span().start..value.span().end;
                        problems.push(ConfigError {
                            line: line_of(text, span.start),
                            field: format!("{section}[{index}].{key}"),
                            message: "is not a field of this entry (a typo?)".to_string(),
                        });
                        replace.push((span, ""));
                    }
                    continue;
                };
                let field = format!("{section}[{index}].{key}");
                if !expected.matches(value.get_ref()) {
                    wrong(
                        &mut problems,
                        &mut replace,
                        value.span(),
                        field,
                        expected,
                        kind_words(value.get_ref()),
                    );
                } else if expected == Expected::Strings
                    && let Some(items) = value.get_ref().as_array()
                {
                    for (at, item) in items.iter().enumerate() {
                        if !item.get_ref().is_str() {
                            wrong(
                                &mut problems,
                                &mut replace,
                                item.span(),
                                format!("{field}[{at}]"),
                                Expected::String,
                                kind_words(item.get_ref()),
                            );
                        }
                    }
                }
            }
        }
    }
    // Replaced from the end so earlier ranges stay valid; line breaks are kept so every line
    // number stays right.
    replace.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    let mut repaired = text.to_string();
    for (span, stand_in) in replace {
        let breaks = "\n".repeat(text[span.clone()].matches('\n').count());
        repaired.replace_range(span, &format!("{stand_in}{breaks}"));
    }
    (problems, repaired)
}

/// Reads and checks the whole file. `env` answers `${NAME}` look-ups.
pub fn parse(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ConfigFile, Vec<ConfigError>> {
    let (wrong_types, repaired) = type_problems(text);
    match parse_typed(&repaired, env) {
        Ok(file) if wrong_types.is_empty() => Ok(file),
        Ok(_) => Err(wrong_types),
        Err(others) => {
            // A stand-in's own complaints (an empty name) are not the file's problems.
            let mut all: Vec<ConfigError> = others
                .into_iter()
                .filter(|e| !wrong_types.iter().any(|w| w.field == e.field))
                .collect();
            all.extend(wrong_types);
            all.sort_by_key(|e| e.line);
            Err(all)
        }
    }
}

fn parse_typed(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ConfigFile, Vec<ConfigError>> {
    let raw: RawFile = toml::from_str(text).map_err(|error| {
        let line = error.span().map_or(1, |span| line_of(text, span.start));
        vec![ConfigError {
            line,
            field: "file".into(),
            message: limits::without_value(error.message()),
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

    let alerts: Vec<AlertEntry> = raw
        .alerts
        .iter()
        .enumerate()
        .filter_map(|(i, a)| reader.alert(i, a))
        .collect();

    let mut names = std::collections::HashSet::new();
    for (index, alert) in raw.alerts.iter().enumerate() {
        if !names.insert(alert.get_ref().name.get_ref().trim().to_string()) {
            reader.error(
                alert.get_ref().name.span().start,
                format!("alerts[{index}].name"),
                "is used by another alert in this file",
            );
        }
    }
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
            alerts,
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
    fn a_type_error_is_named_without_its_value_and_the_other_problems_still_are() {
        let text = r#"
[[credentials]]
name = "wms"
type = "pulpo"
base_url = "http://127.0.0.1:8202/api/v1"
username = "sandbox_admin"
password = 12345678

[[alerts]]
name = "ops"
type = "email"
smtp_host = "smtp.example.com"
smtp_port = "587"
from = "tentacle"
to = ["ops@example.com", 42]
"#;
        let errors = parse(text, &|_| None).expect_err("refused");
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "line 7: credentials[0].password: must be a string (in quotes), not an integer",
                "line 13: alerts[0].smtp_port: must be a whole number, not a string",
                "line 14: alerts[0].from: \"tentacle\" is not an email address like ops@example.com",
                "line 15: alerts[0].to[1]: must be a string (in quotes), not an integer",
            ]
        );
        assert!(!shown.concat().contains("12345678"));

        // A misspelt field no longer hides the rest either.
        let typo = text.replace(
            "username = \"sandbox_admin\"",
            "usernme = \"sandbox_admin\"",
        );
        let errors = parse(&typo, &|_| None).expect_err("refused");
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            shown.contains(
                &"line 6: credentials[0].usernme: is not a field of this entry (a typo?)"
                    .to_string()
            ) && shown.contains(&"line 2: credentials[0].username: is required".to_string())
                && shown
                    .iter()
                    .any(|e| e.starts_with("line 7: credentials[0].password"))
                && shown
                    .iter()
                    .any(|e| e.starts_with("line 13: alerts[0].smtp_port")),
            "{shown:#?}"
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

    const ALERTS: &str = r#"
[[alerts]]
name = "Ops mail"
type = "email"
smtp_host = "smtp.example.com"
username = "tentacle"
password = "${SMTP_PASSWORD}"
from = "tentacle@example.com"
to = ["ops@example.com", "oncall@example.com"]
integrations = ["Sales orders"]

[[alerts]]
name = "Slack"
type = "webhook"
url = "https://hooks.slack.com/services/T0/B0/xyz"
stale_after_hours = 6
"#;

    #[test]
    fn reads_alert_channels_with_their_defaults() {
        let env = |name: &str| (name == "SMTP_PASSWORD").then(|| "mail-secret".to_string());
        let file = parse(ALERTS, &env).unwrap();
        let mail = &file.alerts[0];
        assert_eq!(
            mail.target,
            ChannelTarget::Email {
                smtp_host: "smtp.example.com".into(),
                smtp_port: 587,
                starttls: true,
                username: Some("tentacle".into()),
                from: "tentacle@example.com".into(),
                to: vec!["ops@example.com".into(), "oncall@example.com".into()],
            }
        );
        assert_eq!(
            mail.password.as_ref().unwrap().expose_secret(),
            "mail-secret"
        );
        assert_eq!(mail.integrations, Some(vec!["Sales orders".to_string()]));
        assert_eq!(mail.stale_after_hours, 24);
        let slack = &file.alerts[1];
        assert_eq!(slack.integrations, None, "all configurations");
        assert_eq!(slack.stale_after_hours, 6);
    }

    #[test]
    fn a_bad_alert_names_every_problem_and_never_the_password() {
        let bad = ALERTS
            .replace("smtp.example.com", "smtp example")
            .replace("\"oncall@example.com\"", "\"oncall\"")
            .replace(
                "https://hooks.slack.com",
                "https://user:hunter2@hooks.slack.com",
            )
            .replace("stale_after_hours = 6", "stale_after_hours = 0");
        let errors = parse(&bad, &|_| Some("mail-secret".into())).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "alerts[0].smtp_host",
                "alerts[0].to[1]",
                "alerts[1].url",
                "alerts[1].stale_after_hours"
            ],
            "{errors:?}"
        );
        let text = format!("{errors:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("mail-secret"),
            "{text}"
        );
    }
}
