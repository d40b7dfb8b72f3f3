//! The immutable route table the edge answers from, and the snapshot that holds one table per
//! environment.
//!
//! A snapshot is built from the catalog's published versions, off the request path, and
//! swapped in atomically (`ArcSwap`); a request reads the current one without locks and never
//! touches the metadata store.

use std::collections::BTreeMap;
use std::sync::Arc;

use catalog::model::{Environment, RequestParam};
use catalog::store::{PublishedApi, Store, StoreError};
use http::Method;
use plugins::sql::SqlApi;

use crate::registered::UpstreamRoute;

/// One published API version at one method and path.
#[derive(Debug)]
pub struct Route {
    pub api_id: i64,
    pub api_name: String,
    pub version: i64,
    pub method: Method,
    pub path: String,
    pub target: Target,
}

/// What answers a route.
#[derive(Debug)]
pub enum Target {
    /// A data API, answered in process by the SQL plugin.
    Sql(Box<SqlApi>),
    /// A registered API, proxied to its upstream by pingora.
    Upstream(Box<UpstreamRoute>),
}

impl Route {
    /// The request parameters callers send, with their positions.
    pub fn request_params(&self) -> &[RequestParam] {
        match &self.target {
            Target::Sql(api) => &api.definition().request_params,
            Target::Upstream(upstream) => &upstream.request_params,
        }
    }
}

/// The outcome of looking a request up.
pub enum Lookup<'a> {
    Found {
        route: &'a Arc<Route>,
        path_params: Vec<(String, String)>,
    },
    /// The path exists with other methods.
    MethodNotAllowed {
        allowed: Vec<Method>,
    },
    NotFound,
}

/// Routes of one environment: method + path, with `{name}` path parameters.
#[derive(Default)]
pub struct RouteTable {
    router: matchit::Router<Vec<Arc<Route>>>,
    len: usize,
}

impl RouteTable {
    /// Builds a table; routes whose path collides with an earlier one are returned as
    /// rejected, with why, rather than failing the whole table.
    pub fn build(routes: Vec<Route>) -> (RouteTable, Vec<(Route, String)>) {
        let mut by_path: BTreeMap<String, Vec<Route>> = BTreeMap::new();
        for route in routes {
            by_path.entry(route.path.clone()).or_default().push(route);
        }
        let mut table = RouteTable::default();
        let mut rejected = Vec::new();
        for (path, mut group) in by_path {
            group.sort_by_key(|r| r.api_id);
            let mut kept: Vec<Arc<Route>> = Vec::new();
            for route in group {
                if kept.iter().any(|k| k.method == route.method) {
                    rejected.push((route, format!("{path} is already served for this method by another API")));
                } else {
                    kept.push(Arc::new(route));
                }
            }
            let count = kept.len();
            if let Err(e) = table.router.insert(path.clone(), kept.clone()) {
                for route in kept {
                    if let Ok(route) = Arc::try_unwrap(route) {
                        rejected.push((route, format!("path {path} conflicts with another route: {e}")));
                    }
                }
                continue;
            }
            table.len += count;
        }
        (table, rejected)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn lookup(&self, method: &Method, path: &str) -> Lookup<'_> {
        let Ok(matched) = self.router.at(path) else { return Lookup::NotFound };
        // HEAD is answered like GET.
        let wanted = if method == Method::HEAD { Method::GET } else { method.clone() };
        match matched.value.iter().find(|r| r.method == wanted) {
            Some(route) => Lookup::Found {
                route,
                path_params: matched.params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            },
            None => Lookup::MethodNotAllowed { allowed: matched.value.iter().map(|r| r.method.clone()).collect() },
        }
    }
}

/// Everything the edge serves, for every environment, as of one store revision.
#[derive(Default)]
pub struct Snapshot {
    pub revision: i64,
    pub prod: RouteTable,
    pub test: RouteTable,
}

impl Snapshot {
    pub fn table(&self, env: Environment) -> &RouteTable {
        match env {
            Environment::Prod => &self.prod,
            Environment::Test => &self.test,
        }
    }

    /// Reads the published versions and compiles them. An API that no longer compiles is
    /// left out and logged; the rest still serve.
    pub async fn load(store: &Store) -> Result<Snapshot, StoreError> {
        let revision = store.revision().await?;
        let mut snapshot = Snapshot { revision, ..Snapshot::default() };
        for env in [Environment::Prod, Environment::Test] {
            let routes = store.published(env).await?.into_iter().filter_map(|p| compile(env, p)).collect();
            let (table, rejected) = RouteTable::build(routes);
            for (route, why) in rejected {
                tracing::error!(api = route.api_name, env = env.as_str(), "not served: {why}");
            }
            match env {
                Environment::Prod => snapshot.prod = table,
                Environment::Test => snapshot.test = table,
            }
        }
        Ok(snapshot)
    }
}

fn compile(env: Environment, published: PublishedApi) -> Option<Route> {
    let PublishedApi { api, version, datasource } = published;
    let method = match Method::from_bytes(api.method.to_ascii_uppercase().as_bytes()) {
        Ok(m) => m,
        Err(_) => {
            tracing::error!(api = api.name, method = api.method, "not served: unknown method");
            return None;
        }
    };
    let target = match &datasource {
        _ if !version.definition.mode.is_sql() => {
            UpstreamRoute::compile(&version.definition).map(|u| Target::Upstream(Box::new(u)))
        }
        Some(datasource) => SqlApi::compile(&version.definition, datasource)
            .map(|sql| Target::Sql(Box::new(sql)))
            .map_err(|e| e.message),
        None => Err("the version has no datasource".to_owned()),
    };
    match target {
        Ok(target) => {
            Some(Route { api_id: api.id, api_name: api.name, version: version.number, method, path: api.path, target })
        }
        Err(e) => {
            tracing::error!(api = api.name, env = env.as_str(), version = version.number, "not served: {e}");
            None
        }
    }
}
