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
