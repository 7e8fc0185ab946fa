//! The endpoint policy: which addresses tentacle may send to. Credentials (Shopify's shop URL,
//! PULPO's base URL) and alert channels (a webhook URL, an SMTP host) all go through these
//! functions, so a rule added here (issue 14's allow-list, for example) applies to every
//! outbound connection at once.

/// Checks an `http://` or `https://` URL and returns it without a trailing `/`; the error says
/// what is wrong in words an operator can act on. A URL must name a host and must not carry a
/// user name or password (`https://user:pass@host`): those belong in a secret field, where they
/// are encrypted and never shown.
pub fn endpoint_url(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.chars().count() > MAX_URL_CHARS {
        return Err(format!("must be at most {MAX_URL_CHARS} characters"));
    }
    // A URL is shown in pages, logs and alert texts: characters that are never part of a valid
    // URL (RFC 3986) and that could break out of an attribute, a quoted value or a log line
    // are refused, not escaped at every place it is shown.
    if let Some(bad) = value.chars().find(|&c| is_never_in_a_url(c)) {
        return Err(format!(
            "must not contain {}: percent-encode it or correct the URL",
            describe(bad)
        ));
    }
    let Some(rest) = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
    else {
        return Err(format!("{value:?} must start with http:// or https://"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(
            "must not contain a user name or password (user:password@): put them in the secret fields"
                .to_string(),
        );
    }
    let host = match authority.rsplit_once(':') {
        // A bracketed IPv6 address keeps its colons; a port after it is digits.
        Some((host, port)) if !authority.ends_with(']') => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{value:?} has a port that is not a number"));
            }
            host
        }
        _ => authority,
    };
    endpoint_host(host).map_err(|problem| format!("{value:?}: {problem}"))?;
    Ok(value.trim_end_matches('/').to_string())
}

/// The longest URL accepted, in characters (the common limit of browsers and servers).
pub const MAX_URL_CHARS: usize = 2048;

fn is_never_in_a_url(c: char) -> bool {
    c.is_control() || c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | '\\')
}

/// A refused character in words, never raw (it may be a control character).
fn describe(c: char) -> String {
    match c {
        ' ' => "spaces".to_string(),
        '"' | '\'' | '`' => "quotes".to_string(),
        '<' | '>' => "angle brackets (< >)".to_string(),
        '\\' => "backslashes".to_string(),
        other => format!("the character {}", other.escape_unicode()),
    }
}

/// Checks a host name or IP address (an SMTP server) and returns it trimmed.
pub fn endpoint_host(value: &str) -> Result<String, String> {
    let host = value.trim();
    if host.is_empty() {
        return Err("names no host".to_string());
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
    if !bare.chars().all(allowed) || bare.starts_with(['.', '-']) {
        return Err(format!("{host:?} is not a host name or IP address"));
    }
    Ok(host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_http_a_host_and_no_user_information() {
        assert_eq!(
            endpoint_url("https://hooks.example.com/services/x/"),
            Ok("https://hooks.example.com/services/x".to_string())
        );
        assert_eq!(
            endpoint_url("http://127.0.0.1:8080/hook"),
            Ok("http://127.0.0.1:8080/hook".to_string())
        );
        assert_eq!(
            endpoint_url("http://[::1]:9/x"),
            Ok("http://[::1]:9/x".to_string())
        );
        assert!(endpoint_url("ftp://example.com").is_err_and(|e| e.contains("http://")));
        assert!(endpoint_url("https://").is_err_and(|e| e.contains("names no host")));
        assert!(
            endpoint_url("https://user:pw@example.com/")
                .is_err_and(|e| e.contains("user name or password") && !e.contains("pw"))
        );
        assert!(endpoint_url("https://example.com:80x/").is_err_and(|e| e.contains("port")));
        assert!(endpoint_url("https://exa mple.com/").is_err());
    }

    #[test]
    fn markup_quotes_and_control_characters_are_refused_anywhere_in_a_url() {
        for (url, said) in [
            (
                "https://hooks.example.com/x\"><script>alert(1)</script>",
                "quotes",
            ),
            ("https://hooks.example.com/<script>", "angle brackets"),
            ("https://hooks.example.com/a b", "spaces"),
            ("https://hooks.example.com/it's", "quotes"),
            ("https://hooks.example.com\\@evil.example/", "backslashes"),
            ("https://hooks.example.com/\u{1b}[2J", "\\u{1b}"),
            ("https://hooks.example.com/a\nb", "\\u{a}"),
        ] {
            let problem = endpoint_url(url).expect_err(url);
            assert!(problem.contains(said), "{url}: {problem}");
            assert!(!problem.contains("script"), "{problem}");
        }
        let long = format!("https://hooks.example.com/{}", "a".repeat(MAX_URL_CHARS));
        let problem = endpoint_url(&long).expect_err("too long");
        assert!(problem.contains("at most 2048 characters"), "{problem}");
        assert!(problem.len() < 100, "the value is not echoed: {problem}");
        let longest = format!("https://h.example/{}", "a".repeat(MAX_URL_CHARS - 18));
        assert_eq!(longest.len(), MAX_URL_CHARS);
        assert!(endpoint_url(&longest).is_ok());
    }

    #[test]
    fn hosts_are_names_or_addresses() {
        assert_eq!(
            endpoint_host(" smtp.example.com "),
            Ok("smtp.example.com".into())
        );
        assert!(endpoint_host("").is_err());
        assert!(endpoint_host("smtp example").is_err());
        assert!(endpoint_host("smtp/x").is_err());
    }
}
