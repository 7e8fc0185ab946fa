//! Length limits on what operators type: names of credentials, integration configurations and
//! alert channels, user names, secrets. The API, the UI and the provisioning file all check
//! through these functions, so one limit holds everywhere (a 1.9 MB credential name was stored
//! before there were any). Messages name the limit, never the value, which may be huge or a
//! secret.

/// Names of credentials, configurations, alert channels (and API tokens and users).
pub const MAX_NAME_CHARS: usize = 100;
/// User names for PULPO or an SMTP server, and email addresses (RFC 5321's path limit).
pub const MAX_USERNAME_CHARS: usize = 254;
/// Secrets: access tokens, passwords, webhook secrets. Real ones are far shorter.
pub const MAX_SECRET_CHARS: usize = 4096;

/// Checks a name and returns it trimmed: not empty, at most [`MAX_NAME_CHARS`] characters, no
/// control characters (a line break in a name forges lines in the log and in `tentacle logs`).
pub fn name(value: &str) -> Result<String, String> {
    let name = value.trim();
    if name.is_empty() {
        Err("must not be empty".to_string())
    } else if name.chars().count() > MAX_NAME_CHARS {
        Err(format!("must be at most {MAX_NAME_CHARS} characters"))
    } else if name.chars().any(char::is_control) {
        Err("must not contain control characters (line breaks, tabs, escapes)".to_string())
    } else {
        Ok(name.to_string())
    }
}

/// Checks that a value has at most `max` characters.
pub fn at_most(value: &str, max: usize) -> Result<(), String> {
    if value.chars().count() > max {
        Err(format!("must be at most {max} characters"))
    } else {
        Ok(())
    }
}

/// serde's "invalid type: integer `12345678`, expected a string" without the value, which may
/// be a secret or huge: "must be a string, not an integer". Other messages are kept.
pub fn without_value(message: &str) -> String {
    let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
    else {
        return message.to_string();
    };
    let Some((found, expected)) = rest.split_once(", expected ") else {
        return "has a value of the wrong type".to_string();
    };
    let found = match found.split([' ', '`', '"']).next().unwrap_or_default() {
        "integer" => "an integer",
        "string" => "a string",
        "boolean" => "a boolean",
        "floating" => "a decimal number",
        "sequence" => "a list",
        "map" => "a table",
        "null" => "nothing",
        _ => "another kind of value",
    };
    let expected = match expected.trim() {
        "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64" | "usize" => "a whole number",
        "a boolean" | "bool" => "true or false",
        "a sequence" => "a list",
        "f32" | "f64" => "a number",
        other => other,
    };
    format!("must be {expected}, not {found}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(name("  shop  "), Ok("shop".to_string()));
        assert_eq!(name(&"n".repeat(100)), Ok("n".repeat(100)));
        let long = name(&"n".repeat(101)).expect_err("too long");
        assert_eq!(long, "must be at most 100 characters");
        assert!(name("   ").is_err_and(|e| e.contains("empty")));
        assert!(name("shop\nadmin").is_err_and(|e| e.contains("control characters")));
        assert!(name("shop\u{1b}[2J").is_err_and(|e| e.contains("control characters")));
        assert!(at_most(&"x".repeat(4097), MAX_SECRET_CHARS).is_err_and(|e| e.contains("4096")));
        assert!(at_most(&"x".repeat(4096), MAX_SECRET_CHARS).is_ok());
    }

    #[test]
    fn type_errors_lose_their_value() {
        assert_eq!(
            without_value("invalid type: integer `12345678`, expected a string"),
            "must be a string, not an integer"
        );
        assert_eq!(
            without_value("invalid type: string \"s3cret\", expected u32"),
            "must be a whole number, not a string"
        );
        assert_eq!(
            without_value("missing field `name`"),
            "missing field `name`"
        );
    }
}
