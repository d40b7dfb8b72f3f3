//! The management API's response shape: `{"requestId","success","code","message","data"}`,
//! lists as `{"items","pageNum","pageSize","total"}`, and errors that name the field at fault.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use catalog::store::{PathConflict, StoreError};
pub use errors::ErrorCode;
use plugins::ApiError;
use serde::Serialize;

/// A successful answer.
pub struct Reply<T>(pub StatusCode, pub T);

impl<T: Serialize> Reply<T> {
    pub fn ok(data: T) -> Reply<T> {
        Reply(StatusCode::OK, data)
    }

    pub fn created(data: T) -> Reply<T> {
        Reply(StatusCode::CREATED, data)
    }
}

fn request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "requestId": request_id(),
            "success": true,
            "code": "OK",
            "message": "",
            "data": self.1,
        });
        (self.0, Json(body)).into_response()
    }
}

/// One page of a list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page_num: u64,
    pub page_size: u64,
    pub total: u64,
}

impl<T> Page<T> {
    /// Cuts `all` to page `page_num` (1-based) of `page_size`.
    pub fn of(all: Vec<T>, page_num: u64, page_size: u64) -> Page<T> {
        let total = all.len() as u64;
        let skip = page_num.saturating_sub(1).saturating_mul(page_size) as usize;
        let items = all.into_iter().skip(skip).take(page_size as usize).collect();
        Page { items, page_num, page_size, total }
    }
}

/// An error a management caller sees; its code comes from the one catalogue, [`ErrorCode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    pub kind: ErrorCode,
    /// What a named code is about: `pageSize` in `InvalidParameter.pageSize`.
    pub name: Option<String>,
    pub message: String,
    /// The request field at fault, when one is.
    pub field: Option<String>,
}

impl AdminError {
    pub fn new(kind: ErrorCode, message: impl Into<String>) -> AdminError {
        AdminError { kind, name: None, message: message.into(), field: None }
    }

    /// The code as callers see it: `InvalidParameter.pageSize`, `NotFound`.
    pub fn code(&self) -> String {
        self.kind.with_name(self.name.as_deref())
    }

    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The same error, pinned on request field `field`.
    pub fn in_field(self, field: &str) -> AdminError {
        AdminError { field: Some(field.to_owned()), ..self }
    }

    /// The same code and field with another message.
    pub fn with_message(self, message: impl Into<String>) -> AdminError {
        AdminError { message: message.into(), ..self }
    }

    /// What an API itself answered (the test console, a check before serving a version).
    pub fn relayed(error: &ApiError) -> AdminError {
        AdminError {
            kind: error.kind(),
            name: error.name().map(str::to_owned),
            message: error.message.clone(),
            field: None,
        }
    }

    /// 500 `InternalError`: `what` is logged, the caller learns only that the request failed.
    pub fn internal(what: impl std::fmt::Display) -> AdminError {
        tracing::error!("management API: {what}");
        AdminError::new(ErrorCode::InternalError, "the request failed; the error was logged")
    }

    pub fn unauthorized() -> AdminError {
        AdminError::new(ErrorCode::Unauthorized, "send a valid, unexpired token as `Authorization: Bearer <token>`")
    }

    pub fn forbidden(why: impl Into<String>) -> AdminError {
        AdminError::new(ErrorCode::Forbidden, why)
    }

    /// A bad value in a named field.
    pub fn invalid(field: &str, why: impl Into<String>) -> AdminError {
        AdminError { name: Some(field.to_owned()), ..AdminError::new(ErrorCode::InvalidParameter, why) }.in_field(field)
    }

    /// 409 `Conflict.Path`: the path would take or shadow requests of another published API,
    /// which is named only when the caller may see it (`named`).
    pub fn path_conflict(conflict: &PathConflict, named: bool) -> AdminError {
        let env = conflict.environment.as_str();
        let message = if named {
            format!(
                "the path collides with API `{}` (id {}), published in {env} at {} {}: {}; choose another path",
                conflict.api_name, conflict.api_id, conflict.method, conflict.path, conflict.why
            )
        } else {
            format!(
                "the path would take requests of an API of another workgroup published in {env}; choose another path"
            )
        };
        AdminError::new(ErrorCode::ConflictPath, message).in_field("path")
    }

    pub fn not_found(what: &str, id: impl std::fmt::Display) -> AdminError {
        AdminError::new(ErrorCode::NotFound, format!("{what} `{id}` does not exist"))
    }
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> AdminError {
        match error {
            StoreError::NotFound { what, id } => AdminError::not_found(what, id),
            StoreError::Conflict(why) => AdminError::new(ErrorCode::Conflict, why),
            StoreError::Invalid(why) => AdminError::new(ErrorCode::InvalidParameter, why),
            StoreError::PathConflict(conflict) => AdminError::path_conflict(&conflict, false),
            other => AdminError::internal(format_args!("store error: {other}")),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "requestId": request_id(),
            "success": false,
            "code": self.code(),
            "message": self.message,
            "field": self.field,
            "data": null,
        });
        (self.status(), Json(body)).into_response()
    }
}

pub type AdminResult<T> = Result<Reply<T>, AdminError>;
