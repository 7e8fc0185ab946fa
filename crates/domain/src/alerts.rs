//! Alerts: the channels an operator is told through (a webhook, an email), the incidents that
//! warrant telling (a configuration's run FAILED, new conflicts, no successful run for too
//! long) and the rules every surface (API, UI, provisioning file) checks a channel with.
//!
//! An incident is opened once and closed once: one alert when it opens, one "recovered" notice
//! when it clears, whatever happens in between. The texts are in
//! [`crate::messages::alert_message`].

use crate::endpoint::{endpoint_host, endpoint_url};
use crate::settings::FieldError;
use crate::string_enum::string_enum;

/// Hours without a successful run before a configuration is stale, when a channel says nothing.
pub const DEFAULT_STALE_AFTER_HOURS: u32 = 24;
/// The longest stale threshold: 30 days.
pub const MAX_STALE_AFTER_HOURS: u32 = 720;
/// The longest channel name.
pub const MAX_NAME_LENGTH: usize = crate::limits::MAX_NAME_CHARS;
/// The SMTP submission port, when a channel says nothing.
pub const DEFAULT_SMTP_PORT: u16 = 587;

string_enum! {
    /// How a channel delivers: `webhook` (a JSON POST) or `email` (SMTP).
    ChannelKind, "alert channel type" {
        Webhook => "webhook",
        Email => "email",
    }
}

string_enum! {
    /// What went wrong with a configuration.
    IncidentKind, "incident kind" {
        /// Its last run ended FAILED.
        Failed => "failed",
        /// A run found records in conflict that no run had flagged before.
        Conflicts => "conflicts",
        /// No run ended FINISHED or FINISHED PARTIALLY for longer than the channel's threshold.
        Stale => "stale",
        /// A Shopify credential it uses names an Admin API version whose support ends within
        /// 60 days, or ended.
        ApiVersion => "api_version",
    }
}

string_enum! {
    /// Which notice of an incident a message is.
    AlertEvent, "alert event" {
        /// The incident began.
        Opened => "opened",
        /// The incident cleared.
        Recovered => "recovered",
        /// An operator asked for a test message.
        Test => "test",
    }
}

/// Where a channel delivers, as entered (before the password is sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelTarget {
    Webhook {
        url: String,
    },
    Email {
        smtp_host: String,
        smtp_port: u16,
        /// Upgrade the connection with STARTTLS before logging in (on unless the server is a
        /// local relay that cannot).
        starttls: bool,
        username: Option<String>,
        from: String,
        to: Vec<String>,
    },
}

impl ChannelTarget {
    pub fn kind(&self) -> ChannelKind {
        match self {
            Self::Webhook { .. } => ChannelKind::Webhook,
            Self::Email { .. } => ChannelKind::Email,
        }
    }

    /// Checks every field and returns the target normalized (URLs without a trailing `/`, hosts
    /// and addresses trimmed), or every problem, each naming its field.
    pub fn validated(self) -> Result<ChannelTarget, Vec<FieldError>> {
        let mut problems = Vec::new();
        let target = match self {
            Self::Webhook { url } => match endpoint_url(&url) {
                Ok(url) => Self::Webhook { url },
                Err(problem) => {
                    problems.push(FieldError::new("url", problem));
                    Self::Webhook { url }
                }
            },
            Self::Email {
                smtp_host,
                smtp_port,
                starttls,
                username,
                from,
                to,
            } => {
                let smtp_host = endpoint_host(&smtp_host).unwrap_or_else(|problem| {
                    problems.push(FieldError::new("smtp_host", problem));
                    smtp_host
                });
                if smtp_port == 0 {
                    problems.push(FieldError::new(
                        "smtp_port",
                        "must be a port between 1 and 65535 (587 for submission with STARTTLS)",
                    ));
                }
                let username = username
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty());
                if let Some(name) = &username
                    && let Err(problem) =
                        crate::limits::at_most(name, crate::limits::MAX_USERNAME_CHARS)
                {
                    problems.push(FieldError::new("username", problem));
                }
                let from = from.trim().to_string();
                if let Err(problem) = email_address(&from) {
                    problems.push(FieldError::new("from", problem));
                }
                let to: Vec<String> = to.iter().map(|a| a.trim().to_string()).collect();
                if to.is_empty() {
                    problems.push(FieldError::new("to", "needs at least one recipient"));
                }
                for (index, address) in to.iter().enumerate() {
                    if let Err(problem) = email_address(address) {
                        problems.push(FieldError::new(format!("to[{index}]"), problem));
                    }
                }
                Self::Email {
                    smtp_host,
                    smtp_port,
                    starttls,
                    username,
                    from,
                    to,
                }
            }
        };
        if problems.is_empty() {
            Ok(target)
        } else {
            Err(problems)
        }
    }
}

/// Checks a channel's name: not empty, at most [`MAX_NAME_LENGTH`] characters, no control
/// characters.
pub fn channel_name(name: &str) -> Result<String, String> {
    crate::limits::name(name)
}

/// Checks a stale threshold in hours.
pub fn stale_after_hours(hours: i64) -> Result<u32, String> {
    match u32::try_from(hours) {
        Ok(hours) if (1..=MAX_STALE_AFTER_HOURS).contains(&hours) => Ok(hours),
        _ => Err(format!(
            "must be between 1 and {MAX_STALE_AFTER_HOURS} hours (30 days); the default is \
             {DEFAULT_STALE_AFTER_HOURS}"
        )),
    }
}

/// Checks an email address the way a mail server would accept it: one `@`, a local part and a
/// domain with a dot, no spaces or angle brackets (a display name is not an address).
pub fn email_address(address: &str) -> Result<(), String> {
    crate::limits::at_most(address, crate::limits::MAX_USERNAME_CHARS)?;
    let valid = match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !address
                    .chars()
                    .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '"'))
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{address:?} is not an email address like ops@example.com"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(host: &str, port: u16, from: &str, to: &[&str]) -> ChannelTarget {
        ChannelTarget::Email {
            smtp_host: host.into(),
            smtp_port: port,
            starttls: true,
            username: Some(" ops ".into()),
            from: from.into(),
            to: to.iter().map(|a| a.to_string()).collect(),
        }
    }

    fn fields(problems: Vec<FieldError>) -> Vec<String> {
        problems.into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn a_good_email_channel_is_normalized() {
        let target = email(
            " smtp.example.com ",
            587,
            "tentacle@example.com",
            &[" a@b.co "],
        )
        .validated()
        .expect("valid");
        assert_eq!(
            target,
            ChannelTarget::Email {
                smtp_host: "smtp.example.com".into(),
                smtp_port: 587,
                starttls: true,
                username: Some("ops".into()),
                from: "tentacle@example.com".into(),
                to: vec!["a@b.co".into()],
            }
        );
    }

    #[test]
    fn every_bad_field_of_an_email_channel_is_named() {
        let problems = email("bad host", 0, "nobody", &["ok@example.com", "x@y"])
            .validated()
            .expect_err("invalid");
        assert_eq!(
            fields(problems),
            ["smtp_host", "smtp_port", "from", "to[1]"]
        );
        let problems = email("h", 25, "a@b.co", &[])
            .validated()
            .expect_err("no one");
        assert_eq!(fields(problems), ["to"]);
    }

    #[test]
    fn webhook_urls_follow_the_endpoint_policy() {
        let ok = ChannelTarget::Webhook {
            url: "https://hooks.slack.com/services/T/B/x/".into(),
        };
        assert_eq!(
            ok.validated(),
            Ok(ChannelTarget::Webhook {
                url: "https://hooks.slack.com/services/T/B/x".into()
            })
        );
        for bad in [
            "hooks.slack.com",
            "https://u:p@hooks.example.com",
            "https:///x",
        ] {
            let problems = ChannelTarget::Webhook { url: bad.into() }
                .validated()
                .expect_err(bad);
            assert_eq!(fields(problems), ["url"], "{bad}");
        }
    }

    #[test]
    fn names_and_thresholds_have_bounds() {
        assert_eq!(channel_name("  Ops  "), Ok("Ops".into()));
        assert!(channel_name(" ").is_err());
        assert!(channel_name(&"x".repeat(101)).is_err());
        assert_eq!(stale_after_hours(24), Ok(24));
        assert!(stale_after_hours(0).is_err());
        assert!(stale_after_hours(721).is_err());
    }
}
