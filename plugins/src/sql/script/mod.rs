//! Script mode: MyBatis-style dynamic SQL templates, compiled once and rendered per call.
//! (Being written; interface fixed.)

use catalog::model::RequestParam;

use crate::error::ApiError;
use crate::sql::dialect::Dialect;
use crate::sql::render::RenderedSql;
use crate::sql::value::ParamValues;

/// A template error with its 1-based position in the template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// A compiled script template.
#[derive(Debug, Clone)]
pub struct ScriptTemplate {}

impl ScriptTemplate {
    pub fn compile(
        _template: &str,
        _params: &[RequestParam],
    ) -> Result<ScriptTemplate, TemplateError> {
        Err(TemplateError {
            line: 1,
            column: 1,
            message: "script mode is not built yet".into(),
        })
    }

    pub fn render(
        &self,
        _dialect: Dialect,
        _params: &[RequestParam],
        _values: &ParamValues,
    ) -> Result<RenderedSql, ApiError> {
        Err(ApiError::invalid_definition("script mode is not built yet"))
    }
}
