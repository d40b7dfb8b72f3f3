//! Errors a caller of an API can see: a stable code, an HTTP status and a message that says
//! what to fix. Nothing from the database or an upstream goes into them; the full cause is
//! logged where it happens. Codes come from the one catalogue, [`ErrorCode`].

use std::fmt;

pub use errors::{ErrorCode, Naming};

/// An error answered to the caller of an API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    kind: ErrorCode,
    /// What a named code is about: `age` in `MissingParameter.age`.
    name: Option<Box<str>>,
    pub message: String,
    /// Why, for the API's owners only: the test console shows it, the edge never does.
    owner_detail: Option<&'static str>,
}

/// The longest received value an error message repeats.
const ECHO_LIMIT: usize = 64;

impl ApiError {
    pub fn new(kind: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { kind, name: None, message: message.into(), owner_detail: None }
    }

    /// An error about `name`: the parameter or field after the code's dot.
    pub fn named(kind: ErrorCode, name: &str, message: impl Into<String>) -> Self {
        ApiError { kind, name: Some(name.into()), message: message.into(), owner_detail: None }
    }

    /// 500 `InternalError`: `what` is logged, the caller learns only that it failed.
    pub fn internal(what: impl fmt::Display) -> Self {
        tracing::error!("internal error: {what}");
        ApiError::new(ErrorCode::InternalError, "an internal error occurred")
    }

    pub fn kind(&self) -> ErrorCode {
        self.kind
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The code as callers see it: `MissingParameter.age`, `Timeout`.
    pub fn code(&self) -> String {
        self.kind.with_name(self.name.as_deref())
    }

    /// Why the call failed, in fixed text for the API's owners (see [`ApiError::refused_statement`]).
    pub fn owner_detail(&self) -> Option<&'static str> {
        self.owner_detail
    }

    pub fn status(&self) -> u16 {
        self.kind.status().as_u16()
    }

    pub fn missing_parameter(name: &str) -> Self {
        ApiError::named(ErrorCode::MissingParameter, name, format!("the required parameter `{name}` is missing"))
    }

    /// A value that does not fit its declared type; `received` is cut short.
    pub fn invalid_parameter(name: &str, expected: &str, received: &str) -> Self {
        ApiError::named(
            ErrorCode::InvalidParameter,
            name,
            format!("parameter `{name}` expects {expected}, received `{}`", cut_short(received)),
        )
    }

    /// A list parameter with a `null` item (`position` counts from 1). Refused rather than
    /// bound: a NULL in an IN list changes what NOT IN matches, and PostgreSQL cannot type it.
    pub fn null_list_item(name: &str, position: usize, item_type: &str) -> Self {
        ApiError::invalid_parameter_because(
            name,
            format!("item {position} of the list is null; send only {item_type} values"),
        )
    }

    /// A parameter that is well-typed but not acceptable, with why.
    pub fn invalid_parameter_because(name: &str, why: impl fmt::Display) -> Self {
        ApiError::named(ErrorCode::InvalidParameter, name, format!("parameter `{name}`: {why}"))
    }

    /// A native query that reaches outside what the API allows.
    pub fn forbidden_query(why: impl fmt::Display) -> Self {
        ApiError::new(ErrorCode::ForbiddenQuery, why.to_string())
    }

    /// A request parameter above the caller's clearance, sent or required.
    pub fn forbidden_parameter(name: &str, needs: catalog::model::SecurityLevel) -> Self {
        ApiError::named(
            ErrorCode::ForbiddenParameter,
            name,
            format!("parameter `{name}` needs clearance {}; this caller may not use it", needs.as_str()),
        )
    }

    /// A native query that uses a column above the caller's clearance other than by selecting it.
    pub fn forbidden_field(why: impl fmt::Display) -> Self {
        ApiError::new(ErrorCode::ForbiddenField, why.to_string())
    }

    pub fn timeout(timeout_ms: u64) -> Self {
        ApiError::new(
            ErrorCode::Timeout,
            format!("the query did not finish within the API's timeout of {timeout_ms} ms"),
        )
    }

    /// A native query the database refused: 400 on the parameter that carried it, with a
    /// fixed reason from the error's class (`sql::reject`), never the database's message.
    pub fn query_rejected(name: &str, reason: &str) -> Self {
        ApiError::named(ErrorCode::InvalidParameter, name, format!("the database rejected the query: {reason}"))
    }

    /// A value the database refused in a statement Sluice generated, pinned on the one
    /// parameter that carried it; the reason is fixed text as for [`ApiError::query_rejected`].
    pub fn value_rejected(name: &str, reason: &str) -> Self {
        ApiError::invalid_parameter_because(name, format!("the database rejected the value: {reason}"))
    }

    /// The database failed; the caller learns nothing more than that.
    pub fn database() -> Self {
        ApiError::new(ErrorCode::InternalErrorDatabase, "the database could not answer this call; the error was logged")
    }

    /// The database refused a statement Sluice wrote from the definition (a table or column
    /// it names does not exist, say): the definition does not fit its datasource. Callers
    /// hear [`ApiError::database`]; `reason` (fixed text) is kept for the owners' console.
    pub fn refused_statement(reason: &'static str) -> Self {
        ApiError { owner_detail: Some(reason), ..ApiError::database() }
    }

    /// The API's datasource is refused by the platform's access policy; its owner sees why in
    /// the datasource's connection test, callers only that it is unavailable.
    pub fn datasource_unavailable() -> Self {
        ApiError::new(
            ErrorCode::UnavailableDatasource,
            "the API's datasource is not available; its owners can learn why from its connection test",
        )
    }

    /// A definition that cannot be published, with what to change.
    pub fn invalid_definition(why: impl fmt::Display) -> Self {
        ApiError::new(ErrorCode::InvalidDefinition, why.to_string())
    }
}

/// A definition that cannot be compiled: what to change, and where. The place is structured
/// so the management API can name the field (`draft.requestParams.age`) and the declarative
/// files the line, without reading the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    pub field: DefinitionField,
    pub message: String,
}

/// Where in a definition a [`DefinitionError`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefinitionField {
    /// A key of the definition as its JSON spells it: `table`, `options.maxLimit`, `baseUrl`.
    Key(&'static str),
    /// One named item of a list: (`requestParams`, `age`), (`constants`, `apiKey`).
    Item(&'static str, String),
    /// A line of a script template, counted from 1.
    ScriptLine(usize),
    /// A place in a workflow as its check names it: `nodes[2].params.user_id`, `start`.
    Node(String),
    /// A key of one item of a list, the item by index and name:
    /// (`requestParams`, 0, `age`, `default`) is `requestParams[0].default`.
    ItemKey { list: &'static str, index: usize, name: String, key: &'static str },
}

impl DefinitionField {
    /// The dotted path from the definition's root: `table`, `requestParams.age`, `sql`.
    pub fn path(&self) -> String {
        match self {
            DefinitionField::Key(key) => (*key).to_owned(),
            DefinitionField::Item(list, name) => format!("{list}.{name}"),
            DefinitionField::ScriptLine(_) => "sql".to_owned(),
            DefinitionField::Node(path) => path.clone(),
            DefinitionField::ItemKey { list, index, key, .. } => format!("{list}[{index}].{key}"),
        }
    }
}

impl DefinitionError {
    /// An error about the key `key`.
    pub fn at(key: &'static str, message: impl Into<String>) -> Self {
        DefinitionError { field: DefinitionField::Key(key), message: message.into() }
    }

    /// An error about the item `name` of the list `list`.
    pub fn item(list: &'static str, name: &str, message: impl Into<String>) -> Self {
        DefinitionError { field: DefinitionField::Item(list, name.to_owned()), message: message.into() }
    }
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DefinitionError {}

impl From<DefinitionError> for ApiError {
    fn from(error: DefinitionError) -> Self {
        ApiError::invalid_definition(error.message)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code(), self.status(), self.message)
    }
}

impl std::error::Error for ApiError {}

/// At most [`ECHO_LIMIT`] characters of a received value, with an ellipsis when cut.
pub fn cut_short(received: &str) -> String {
    let mut chars = received.chars();
    let head: String = chars.by_ref().take(ECHO_LIMIT).collect();
    if chars.next().is_some() { format!("{head}…") } else { head }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_parameter_names_the_parameter_and_cuts_long_values() {
        let long = "x".repeat(500);
        let err = ApiError::invalid_parameter("age", "an integer", &long);
        assert_eq!(err.code(), "InvalidParameter.age");
        assert_eq!(err.status(), 400);
        assert!(err.message.len() < 150, "message not cut: {}", err.message);
        assert!(err.message.contains("an integer"));
    }
}
