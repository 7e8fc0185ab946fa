//! What can go wrong talking to PULPO, in words an operator can act on.

use serde_json::Value;

/// One validation message from PULPO's `ErrorsList` (`{"errors":[{"<column>": "<message>"}]}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMessage {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for FieldMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum PulpoError {
    #[error(
        "PULPO refused the login for user {username}: check the username (<tenant>_<user>) and the password"
    )]
    LoginRefused { username: String },
    #[error(
        "PULPO answered 401 Unauthorized even with a fresh token: check that the user may use the API"
    )]
    Unauthorized,
    #[error("PULPO rejected the request ({status}): {}", join(.errors))]
    Rejected {
        status: u16,
        errors: Vec<FieldMessage>,
    },
    #[error("PULPO has no {what}")]
    NotFound { what: String },
    #[error("PULPO is unavailable after {attempts} attempts: {last}")]
    Unavailable { attempts: u32, last: String },
    /// The request may or may not have been carried out: the connection failed after it was
    /// sent, or PULPO answered 5xx to a write.
    #[error(
        "PULPO did not confirm the request ({detail}); it may or may not have been carried out"
    )]
    Ambiguous { detail: String },
    #[error(
        "the PULPO base URL answered {status}, a redirect; tentacle follows no redirects (they would carry the password and token elsewhere): give PULPO's own address"
    )]
    Redirected { status: u16 },
    #[error(
        "the answer is larger than {cap_mib} MiB, far more than any PULPO page; tentacle stopped reading it: check the base URL"
    )]
    TooLarge { cap_mib: usize },
    #[error("PULPO's answer could not be read: {0}")]
    Decode(String),
    #[error("the PULPO base URL {0:?} is not a valid http(s) URL")]
    BadBaseUrl(String),
}

fn join(errors: &[FieldMessage]) -> String {
    if errors.is_empty() {
        return "no details given".into();
    }
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

pub type Result<T, E = PulpoError> = std::result::Result<T, E>;

/// Reads PULPO's error bodies: `ErrorsList` (`{"errors":[{"col":"msg"}]}`), the changeset style
/// (`{"errors":{"col":["msg"]}}`), or `AuthError` (`{"errors":{"message":"…"}}`).
pub(crate) fn field_messages(body: &Value) -> Vec<FieldMessage> {
    let mut out = Vec::new();
    let mut push = |field: &str, value: &Value| match value {
        Value::String(message) => out.push(FieldMessage {
            field: field.to_string(),
            message: message.clone(),
        }),
        Value::Array(messages) => {
            for message in messages {
                out.push(FieldMessage {
                    field: field.to_string(),
                    message: message.as_str().unwrap_or_default().to_string(),
                });
            }
        }
        other => out.push(FieldMessage {
            field: field.to_string(),
            message: other.to_string(),
        }),
    };
    match body.get("errors") {
        Some(Value::Array(entries)) => {
            for entry in entries {
                match entry {
                    Value::Object(map) => map.iter().for_each(|(k, v)| push(k, v)),
                    other => push("request", other),
                }
            }
        }
        Some(Value::Object(map)) => map.iter().for_each(|(k, v)| push(k, v)),
        Some(other) => push("request", other),
        None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_error_shape_pulpo_uses() {
        let list = field_messages(
            &json!({"errors":[{"order_num":"has already been taken"},{"ship_to.address.street":"can't be blank"}]}),
        );
        assert_eq!(
            list[0],
            FieldMessage {
                field: "order_num".into(),
                message: "has already been taken".into()
            }
        );
        assert_eq!(list[1].field, "ship_to.address.street");
        let changeset =
            field_messages(&json!({"errors":{"state":["cannot cancel an ended order"]}}));
        assert_eq!(
            changeset,
            vec![FieldMessage {
                field: "state".into(),
                message: "cannot cancel an ended order".into()
            }]
        );
        let error = PulpoError::Rejected {
            status: 422,
            errors: list,
        };
        assert_eq!(
            error.to_string(),
            "PULPO rejected the request (422): order_num: has already been taken; ship_to.address.street: can't be blank"
        );
    }
}
