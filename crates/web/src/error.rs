//! The one error type of the API: logs what went wrong inside, shows the caller a clear message.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tentacle_store::StoreError;
use utoipa::ToSchema;

/// One bad field of a request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldProblem {
    /// The field, dotted for nested ones: `settings.frequency_minutes`, `secrets.password`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl FieldProblem {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> FieldProblem {
        FieldProblem {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in words a person can act on.
    pub error: String,
    /// With 422: every bad field of the request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "authentication required: send Authorization: Bearer <token> (tentacle token create NAME)"
    )]
    Unauthorized,
    /// A known token past its expiry.
    #[error("this API token expired at {0}; make a new one (tentacle token create NAME)")]
    TokenExpired(String),
    /// A known token whose scope does not cover the request.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request has invalid fields; nothing was saved")]
    Invalid(Vec<FieldProblem>),
    #[error("{0}")]
    Unavailable(String),
    #[error("the request body is larger than {} KiB; nothing was saved", .0 / 1024)]
    TooLarge(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized | ApiError::TokenExpired(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::Store(StoreError::NotFound { .. }) => {
                StatusCode::NOT_FOUND
            }
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) | ApiError::Store(StoreError::Conflict { .. }) => {
                StatusCode::CONFLICT
            }
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let error = if status == StatusCode::INTERNAL_SERVER_ERROR {
            // The details (SQL, decryption) are for the operator's log, not the caller.
            tracing::error!(error = %self, "API request failed.");
            "internal error; the server log has the details".to_string()
        } else {
            self.to_string()
        };
        let errors = match self {
            ApiError::Invalid(errors) => errors,
            _ => Vec::new(),
        };
        let mut response = (status, Json(ErrorBody { error, errors })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

pub(crate) type Result<T, E = ApiError> = std::result::Result<T, E>;

/// A JSON body, or a 400 in the API's error shape when it is not JSON.
pub(crate) fn json_body(
    body: std::result::Result<Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> Result<serde_json::Value> {
    body.map(|Json(value)| value).map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(crate::MAX_API_BODY_BYTES)
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })
}

/// The trimmed `name` of a create's body, when it is a usable one (the checks name the rest).
pub(crate) fn posted_name(body: &serde_json::Value) -> Option<String> {
    body.get("name")
        .and_then(serde_json::Value::as_str)
        .and_then(|name| tentacle_domain::limits::name(name).ok())
}

/// Query parameters, or a 400 in the API's error shape.
pub(crate) fn query<T>(
    query: std::result::Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T> {
    query
        .map(|axum::extract::Query(value)| value)
        .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
}
