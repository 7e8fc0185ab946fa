//! The PULPO API's error answers, in the shapes its spec and real clients document
//! (reference §B.3.4): `AuthError` `{"errors":{"message":…}}` for 401, and `ErrorsList`
//! `{"errors":[{"<column>":"<message>"}]}` for 400 and 422.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::store::StoreError;

/// One validation error: the column (a dotted path such as `ship_to.address.street` or
/// `items[0].product_id`) and Ecto-style message ("can't be blank", "does not exist", …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The `Error` object `{"<column>": "<message>"}`.
    pub fn to_json(&self) -> Value {
        let mut object = Map::with_capacity(1);
        object.insert(self.field.clone(), Value::String(self.message.clone()));
        Value::Object(object)
    }
}

/// Every way a PULPO API request can fail.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// Bad credentials, or a missing, unknown or expired bearer token.
    #[error("unauthorized")]
    Unauthorized,
    /// Unknown id in the path, or unknown route.
    #[error("not found")]
    NotFound,
    /// Malformed request (not JSON, bad query value).
    #[error("bad request: {0:?}")]
    BadRequest(Vec<FieldError>),
    /// Well-formed request the data rules refuse.
    #[error("unprocessable: {0:?}")]
    Unprocessable(Vec<FieldError>),
    /// More concurrent requests than the sandbox's `max_concurrency`.
    #[error("too many requests")]
    TooManyRequests,
    /// A request line beyond [`MAX_REQUEST_LINE`](super::limits::MAX_REQUEST_LINE).
    #[error("request line too long")]
    RequestLineTooLong,
}

impl ApiError {
    pub fn bad_request(field: &str, message: &str) -> Self {
        ApiError::BadRequest(vec![FieldError::new(field, message)])
    }

    pub fn unprocessable(field: &str, message: &str) -> Self {
        ApiError::Unprocessable(vec![FieldError::new(field, message)])
    }
}

/// `{"errors":[{…},{…}]}`.
pub fn errors_list(errors: &[FieldError]) -> Value {
    json!({ "errors": errors.iter().map(FieldError::to_json).collect::<Vec<_>>() })
}

/// PULPO's `AuthError` shape, which the sandbox also uses for 404 and 429 (the spec gives
/// those no schema).
fn message(text: &str) -> Value {
    json!({ "errors": { "message": text } })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            // The web server refuses it before PULPO's application, so no JSON body.
            ApiError::RequestLineTooLong => return StatusCode::URI_TOO_LONG.into_response(),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, message("unauthorized")),
            ApiError::NotFound => (StatusCode::NOT_FOUND, message("not found")),
            ApiError::TooManyRequests => {
                (StatusCode::TOO_MANY_REQUESTS, message("too many requests"))
            }
            ApiError::BadRequest(errors) => (StatusCode::BAD_REQUEST, errors_list(errors)),
            ApiError::Unprocessable(errors) => {
                (StatusCode::UNPROCESSABLE_ENTITY, errors_list(errors))
            }
        };
        (status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(..) => ApiError::NotFound,
            StoreError::Invalid(errors) => ApiError::Unprocessable(errors),
        }
    }
}

/// Parses a JSON request body. Syntax errors are a 400; a value of the wrong type is a 422
/// naming the field's path (e.g. `items[0].quantity`), the way PULPO's changesets name columns.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    use axum::extract::rejection::JsonRejection;
    match Json::<T>::from_bytes(body) {
        Ok(Json(value)) => Ok(value),
        Err(JsonRejection::JsonDataError(error)) => {
            let (field, message) = split_path(&error.body_text());
            Err(ApiError::Unprocessable(vec![FieldError::new(
                field, message,
            )]))
        }
        Err(rejection) => Err(ApiError::bad_request("body", &rejection.body_text())),
    }
}

/// axum reports data errors as "Failed to deserialize …: <path>: <message>"; the path is what
/// PULPO would name as the column. Falls back to `body` when there is no path.
fn split_path(text: &str) -> (String, String) {
    let detail = text
        .split_once("target type: ")
        .map_or(text, |(_, detail)| detail);
    match detail.split_once(": ") {
        Some((path, message)) if !path.is_empty() && !path.contains(' ') => {
            (path.to_string(), message.to_string())
        }
        _ => ("body".to_string(), detail.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Body {
        items: Vec<Item>,
    }
    #[derive(Debug, serde::Deserialize)]
    struct Item {
        quantity: i64,
    }

    #[test]
    fn type_errors_name_the_field_and_syntax_errors_are_bad_requests() {
        let body = parse_json::<Body>(br#"{"items":[{"quantity":2}]}"#).unwrap();
        assert_eq!(body.items[0].quantity, 2);
        let error = parse_json::<Body>(br#"{"items":[{"quantity":"two"}]}"#).unwrap_err();
        let ApiError::Unprocessable(errors) = error else {
            panic!("expected 422, got {error:?}");
        };
        assert_eq!(errors[0].field, "items[0].quantity");
        assert!(errors[0].message.contains("invalid type"), "{errors:?}");
        assert!(matches!(
            parse_json::<Body>(b"{not json"),
            Err(ApiError::BadRequest(_))
        ));
    }
}
