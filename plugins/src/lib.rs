//! How Sluice APIs run. Each kind of API is a plugin behind [`ApiPlugin`]; today that is the
//! SQL plugin ([`sql`]) with its wizard, script and native modes.
//!
//! Plugins never depend on the edge (pingora): they take typed requests and return bytes.

pub mod api_rules;
pub mod error;
pub mod registered;
pub mod sql;

pub use error::ApiError;

use async_trait::async_trait;
use sql::access::DatasourceAccess;

/// What a plugin may use while answering: shared, long-lived resources of the process.
/// `Default` reaches no database: pools open only what a [`DatasourceAccess`] admits.
#[derive(Debug, Default)]
pub struct PluginContext {
    pub pools: sql::execute::PoolRegistry,
}

impl PluginContext {
    pub fn new(access: DatasourceAccess) -> PluginContext {
        PluginContext { pools: sql::execute::PoolRegistry::new(access) }
    }
}

/// One kind of API. Validation happens when a plugin value is built (at publish time, from an
/// immutable version); `invoke` runs per call and must not redo that work.
#[async_trait]
pub trait ApiPlugin: Send + Sync {
    /// `wizard`, `script`, `native`, …
    fn mode(&self) -> &'static str;

    async fn invoke(&self, ctx: &PluginContext, input: &sql::CallInput) -> Result<sql::CallOutput, ApiError>;
}

#[async_trait]
impl ApiPlugin for sql::SqlApi {
    fn mode(&self) -> &'static str {
        self.definition().mode.name()
    }

    async fn invoke(&self, ctx: &PluginContext, input: &sql::CallInput) -> Result<sql::CallOutput, ApiError> {
        sql::SqlApi::invoke(self, &ctx.pools, input).await
    }
}
