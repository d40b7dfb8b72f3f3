//! In-process calls between APIs (a workflow's `api` nodes), for whichever runtime holds the
//! [`PluginContext`]: the edge's, and the management API's test console. A call runs the
//! served version of the named API in the call's environment from the current [`Snapshot`],
//! with the clearance the call carries. Registered APIs are one bounded JSON exchange
//! (`forward_json.rs`) through the snapshot's network policy.

use std::sync::{Arc, OnceLock, Weak};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use catalog::model::Environment;
use net::ssrf::{CheckedTarget, SsrfError};
use pingora::connectors::http::Connector;
use plugins::registered::UpstreamRoute;
use plugins::{ApiError, Call, CallOutput, Dispatcher, ErrorCode, Forward, PluginContext};

use crate::edge::{new_request_id, unavailable, upstream_timeout};
use crate::forward_json;
use crate::routes::{Route, Snapshot};

/// The dispatcher of one [`PluginContext`]. The context holds it weakly: whoever attached it
/// keeps the returned `Arc` as long as the context serves calls.
pub struct InProcessCalls {
    snapshot: Arc<ArcSwap<Snapshot>>,
    plugins: Arc<PluginContext>,
    /// Dials registered APIs; pingora's defaults unless set first.
    connector: OnceLock<Connector>,
}

impl InProcessCalls {
    /// Makes `plugins`' workflow nodes call the APIs `snapshot` serves.
    pub fn attach(snapshot: Arc<ArcSwap<Snapshot>>, plugins: Arc<PluginContext>) -> Arc<InProcessCalls> {
        let calls = Arc::new(InProcessCalls { snapshot, plugins, connector: OnceLock::new() });
        let dispatcher: Weak<dyn Dispatcher> = Arc::downgrade(&calls) as Weak<dyn Dispatcher>;
        calls.plugins.set_dispatcher(dispatcher);
        calls
    }

    /// Sets the connector registered APIs are dialled with; the first one stays.
    pub fn set_connector(&self, connector: Connector) {
        let _ = self.connector.set(connector);
    }

    fn connector(&self) -> &Connector {
        self.connector.get_or_init(|| Connector::new(None))
    }

    async fn dispatch_route(&self, route: &Route, call: &Call) -> Result<CallOutput, ApiError> {
        if let Some(clearance) = call.clearance
            && clearance < route.access.security_level
        {
            return Err(ApiError::new(
                ErrorCode::ForbiddenSecurityLevel,
                format!(
                    "API `{}` needs clearance {}; the caller has {}",
                    route.api_name,
                    route.access.security_level.as_str(),
                    clearance.as_str()
                ),
            ));
        }
        let call = Call { workgroup_id: Some(route.workgroup_id), ..call.clone() };
        match route.served.plugin.invoke(&self.plugins, &call).await? {
            // Bounded and not streamed: the answer is read whole (≤ 1 MiB) as JSON. A dry run
            // reaches nothing: it answers the request it would send.
            CallOutput::Forward(forward) if !call.dry_run => self.exchange(&route.api_name, &forward).await,
            output => Ok(output),
        }
    }

    /// A registered API's request, to the address the network policy checked, answered as JSON.
    async fn exchange(&self, api: &str, forward: &Forward) -> Result<CallOutput, ApiError> {
        let target = check_upstream(&self.snapshot, &forward.upstream, api).await?;
        forward_json::exchange_json(self.connector(), forward, &target, &new_request_id()).await
    }
}

/// No second authentication and no limits: the outer call was admitted. An API above the
/// call's clearance is refused as it would be to the caller directly, and masking applies
/// inside. By name, only the given workgroup's APIs are found.
#[async_trait]
impl Dispatcher for InProcessCalls {
    async fn dispatch(&self, api_id: i64, call: &Call) -> Result<CallOutput, ApiError> {
        let route = self.snapshot.load().table(call.env).by_id(api_id).map(Arc::clone);
        let Some(route) = route else {
            return Err(ApiError::new(
                ErrorCode::NotFoundApi,
                format!("API {api_id} is not published in the {} environment", call.env.as_str()),
            ));
        };
        self.dispatch_route(&route, call).await
    }

    async fn dispatch_by_name(&self, workgroup_id: i64, name: &str, call: &Call) -> Result<CallOutput, ApiError> {
        let route = self.snapshot.load().table(call.env).by_name(workgroup_id, name).map(Arc::clone);
        let Some(route) = route else {
            return Err(ApiError::new(
                ErrorCode::NotFoundApi,
                format!("no API `{name}` of this workgroup is published in the {} environment", call.env.as_str()),
            ));
        };
        self.dispatch_route(&route, call).await
    }

    async fn forward(&self, api: &str, forward: &Forward) -> Result<CallOutput, ApiError> {
        self.exchange(api, forward).await
    }

    fn param_names(&self, env: Environment, workgroup_id: i64, name: &str) -> Option<Vec<String>> {
        let snapshot = self.snapshot.load();
        let route = snapshot.table(env).by_name(workgroup_id, name)?;
        Some(route.served.plugin.request_params().iter().map(|p| p.name.clone()).collect())
    }
}

/// Resolves an upstream's host through the snapshot's network policy, now (DNS answers
/// change): the one address to dial.
pub(crate) async fn check_upstream(
    snapshot: &ArcSwap<Snapshot>,
    upstream: &UpstreamRoute,
    api: &str,
) -> Result<CheckedTarget, ApiError> {
    let timeout = upstream.timeout;
    let net = &snapshot.load().outbound.net;
    match tokio::time::timeout(timeout, net.resolve_checked(&upstream.url)).await {
        Ok(Ok(target)) => Ok(target),
        Ok(Err(SsrfError::Forbidden { reason })) => {
            Err(ApiError::new(ErrorCode::UpstreamForbidden, format!("the upstream address is not allowed ({reason})")))
        }
        Ok(Err(e)) => {
            tracing::warn!(api, "upstream not reachable: {e}");
            Err(unavailable())
        }
        Err(_) => Err(upstream_timeout(timeout)),
    }
}
