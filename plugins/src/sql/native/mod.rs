//! Native mode: a caller's SELECT, parsed in the datasource's dialect, checked against the
//! API's allowed tables and functions, and regenerated. (Being written; interface fixed.)

use catalog::model::NativeSpec;

use crate::error::ApiError;
use crate::sql::dialect::Dialect;
use crate::sql::render::RenderedSql;

/// What a native API allows, normalised for one dialect.
#[derive(Debug, Clone)]
pub struct NativePolicy {}

impl NativePolicy {
    pub fn compile(
        _spec: &NativeSpec,
        _dialect: Dialect,
        _default_schema: &str,
    ) -> Result<NativePolicy, String> {
        Err("native mode is not built yet".into())
    }

    pub fn check(&self, _sql: &str, _row_cap: u32) -> Result<RenderedSql, ApiError> {
        Err(ApiError::forbidden_query("native mode is not built yet"))
    }
}
