//! The immutable route table the edge answers from, and the snapshot that holds one table per
//! environment.
//!
//! A snapshot is built from the catalog's published versions, gray strategies and callers, off
//! the request path, and swapped in atomically (`ArcSwap`); a request reads the current one
//! without locks and never touches the metadata store.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::Arc;

use catalog::model::{ApiDefinition, AuthMode, Datasource, Environment, SecurityLevel};
use catalog::route_space::{RouteClaim, Unserved, conflicting_pairs};
use catalog::store::{GrayRelease, PublishedApi, Store, StoreError};
use http::{HeaderValue, Method};
use plugins::{ApiPlugin, BodyUse};
use sha2::{Digest, Sha256};

use crate::callers::CallerTable;
use config::outbound::{Outbound, OutboundBase};

/// One published API at one method and path: the version the environment serves and, while a
/// gray strategy is on, the version a share of callers gets instead.
#[derive(Debug)]
pub struct Route {
    pub api_id: i64,
    pub workgroup_id: i64,
    pub api_name: String,
    pub method: Method,
    pub path: String,
    pub access: RouteAccess,
    pub served: Variant,
    pub gray: Option<Gray>,
}

/// Who may call a route, and how often: the API's settings at snapshot time.
#[derive(Debug, Clone, Copy)]
pub struct RouteAccess {
    pub auth_mode: AuthMode,
    pub security_level: SecurityLevel,
    pub max_qps: Option<NonZeroU32>,
}

/// One compiled version of an API.
#[derive(Debug)]
pub struct Variant {
    pub version: i64,
    /// `V{version}`, for the `X-Sluice-Version` response header.
    pub version_header: HeaderValue,
    /// What runs the version's calls, whatever its mode.
    pub plugin: Arc<dyn ApiPlugin>,
}

/// A gray version and the share of callers, in hundredths of a percent (0–10000), that get it.
#[derive(Debug)]
pub struct Gray {
    pub basis_points: u16,
    pub variant: Variant,
}

impl Route {
    /// Whether the caller gets the gray version: sticky per `caller_key` (an app key, or the
    /// client address of an anonymous caller) and independent between APIs, so one caller
    /// sees one version of an API and is not in every API's gray share at once.
    pub fn choose(&self, caller_key: &[u8]) -> bool {
        match &self.gray {
            None => false,
            Some(gray) if gray.basis_points == 0 => false,
            Some(gray) if gray.basis_points >= 10_000 => true,
            Some(gray) => gray_bucket(self.api_id, caller_key) < gray.basis_points,
        }
    }

    /// The gray variant when `gray` (and there is one), else the published one.
    pub fn variant(&self, gray: bool) -> &Variant {
        match &self.gray {
            Some(g) if gray => &g.variant,
            _ => &self.served,
        }
    }

    /// Whether the route answers `method`: HEAD is answered like GET.
    fn serves(&self, method: &Method) -> bool {
        self.method == if method == Method::HEAD { &Method::GET } else { method }
    }

    /// Whether any version of the route forwards its body upstream.
    pub fn reaches_upstream(&self) -> bool {
        self.any_variant(|variant| matches!(variant.plugin.body_use(), BodyUse::Forwarded { .. }))
    }

    /// Whether any version that forwards its body reads parameters from it first.
    pub fn reads_upstream_body(&self) -> bool {
        self.any_variant(|variant| variant.plugin.body_use() == BodyUse::Forwarded { reads_params: true })
    }

    fn any_variant(&self, test: impl Fn(&Variant) -> bool) -> bool {
        test(&self.served) || self.gray.as_ref().is_some_and(|g| test(&g.variant))
    }
}

/// A stable bucket 0–9999 for a caller of an API: the same across restarts and builds.
pub fn gray_bucket(api_id: i64, caller_key: &[u8]) -> u16 {
    let digest = Sha256::new().chain_update(api_id.to_be_bytes()).chain_update(caller_key).finalize();
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    // u64 % 10000 is biased by at most 10000 / 2^64: nothing a traffic share can show.
    (u64::from_be_bytes(head) % 10_000) as u16
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
    /// The same routes by API id, for in-process calls.
    by_id: HashMap<i64, Arc<Route>>,
    len: usize,
}

impl RouteTable {
    /// Builds a table; routes that may not be served beside others are returned as rejected,
    /// with why, rather than failing the whole table. The store refuses such paths when they are
    /// saved or published (`catalog::route_space`); this is for a store written before it did.
    /// Routes of different workgroups that claim the same requests are all left out: neither
    /// workgroup may receive the other's calls. Within one workgroup the older API keeps the path.
    pub fn build(routes: Vec<Route>) -> (RouteTable, Vec<(Route, String)>) {
        let claims: Vec<RouteClaim<'_>> = routes
            .iter()
            .map(|r| RouteClaim { workgroup_id: r.workgroup_id, method: r.method.as_str(), path: &r.path })
            .collect();
        let mut refused: HashMap<usize, String> = HashMap::new();
        for (i, j, why) in conflicting_pairs(&claims) {
            let (a, b) = (&routes[i], &routes[j]);
            if a.workgroup_id != b.workgroup_id {
                refused.insert(i, format!("{why} as API {} of another workgroup: neither is served", b.api_id));
                refused.insert(j, format!("{why} as API {} of another workgroup: neither is served", a.api_id));
            } else {
                let (older, newer) = if a.api_id < b.api_id { (i, j) } else { (j, i) };
                refused
                    .entry(newer)
                    .or_insert_with(|| format!("{why} as API {}, which keeps it", routes[older].api_id));
            }
        }
        drop(claims);
        let mut by_path: BTreeMap<String, Vec<Route>> = BTreeMap::new();
        let mut rejected = Vec::new();
        for (i, route) in routes.into_iter().enumerate() {
            match refused.remove(&i) {
                Some(why) => rejected.push((route, why)),
                None => by_path.entry(route.path.clone()).or_default().push(route),
            }
        }
        let mut table = RouteTable::default();
        for (path, mut group) in by_path {
            group.sort_by_key(|r| r.api_id);
            let kept: Vec<Arc<Route>> = group.into_iter().map(Arc::new).collect();
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
            for route in kept {
                table.by_id.insert(route.api_id, route);
            }
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
        match matched.value.iter().find(|r| r.serves(method)) {
            Some(route) => Lookup::Found {
                route,
                path_params: matched.params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            },
            None => Lookup::MethodNotAllowed { allowed: matched.value.iter().map(|r| r.method.clone()).collect() },
        }
    }

    /// The route of API `api_id`.
    pub fn by_id(&self, api_id: i64) -> Option<&Arc<Route>> {
        self.by_id.get(&api_id)
    }

    /// The route serving `method` at `path`, without its path parameters.
    pub fn find(&self, method: &Method, path: &str) -> Option<&Arc<Route>> {
        self.router.at(path).ok()?.value.iter().find(|r| r.serves(method))
    }
}

/// Everything the edge serves, for every environment, and who may call it, as of one store
/// revision.
#[derive(Default)]
pub struct Snapshot {
    pub revision: i64,
    pub prod: RouteTable,
    pub test: RouteTable,
    pub callers: CallerTable,
    /// The network and datasource policies of this revision.
    pub outbound: Outbound,
    /// Published APIs the tables leave out, with why (reported by the health endpoint).
    pub unserved: Vec<Unserved>,
}

impl Snapshot {
    pub fn table(&self, env: Environment) -> &RouteTable {
        match env {
            Environment::Prod => &self.prod,
            Environment::Test => &self.test,
        }
    }

    /// Reads the published versions, gray strategies and callers, and compiles the versions. An
    /// API that no longer compiles is left out and logged, and a gray version that does not is
    /// not served (everyone gets the published one); the rest still serve.
    pub async fn load(store: &Store, outbound: &OutboundBase) -> Result<Snapshot, StoreError> {
        let revision = store.revision().await?;
        let callers = CallerTable::build(store.caller_directory().await?);
        let outbound = outbound.load(store).await?;
        let mut snapshot = Snapshot { revision, callers, outbound, ..Snapshot::default() };
        for env in [Environment::Prod, Environment::Test] {
            let mut grays: HashMap<i64, GrayRelease> =
                store.gray_releases(env).await?.into_iter().map(|g| (g.strategy.api_id, g)).collect();
            let routes = store
                .published(env)
                .await?
                .into_iter()
                .filter_map(|p| {
                    let gray = grays.remove(&p.api.id);
                    compile(env, p, gray)
                })
                .collect();
            let (table, rejected) = RouteTable::build(routes);
            for (route, why) in rejected {
                tracing::error!(api = route.api_name, api_id = route.api_id, env = env.as_str(), "not served: {why}");
                snapshot.unserved.push(Unserved {
                    api_id: route.api_id,
                    workgroup_id: route.workgroup_id,
                    environment: env,
                    why,
                });
            }
            match env {
                Environment::Prod => snapshot.prod = table,
                Environment::Test => snapshot.test = table,
            }
        }
        Ok(snapshot)
    }
}

fn compile(env: Environment, published: PublishedApi, gray: Option<GrayRelease>) -> Option<Route> {
    let PublishedApi { api, version, datasource } = published;
    let method = match Method::from_bytes(api.method.to_ascii_uppercase().as_bytes()) {
        Ok(m) => m,
        Err(_) => {
            tracing::error!(api = api.name, method = api.method, "not served: unknown method");
            return None;
        }
    };
    let served = match compile_variant(version.number, &version.definition, datasource.as_ref()) {
        Ok(variant) => variant,
        Err(e) => {
            tracing::error!(api = api.name, env = env.as_str(), version = version.number, "not served: {e}");
            return None;
        }
    };
    let gray = gray.and_then(|release| {
        let number = release.version.number;
        // A gray version reads the datasource its definition names, which is the published
        // version's unless the definition moved; then it is not served.
        if release.version.definition.datasource_id != version.definition.datasource_id {
            tracing::error!(
                api = api.name,
                env = env.as_str(),
                version = number,
                "gray version not served: it reads another datasource"
            );
            return None;
        }
        match compile_variant(number, &release.version.definition, datasource.as_ref()) {
            Ok(variant) => Some(Gray { basis_points: u16::from(release.strategy.percent) * 100, variant }),
            Err(e) => {
                tracing::error!(api = api.name, env = env.as_str(), version = number, "gray version not served: {e}");
                None
            }
        }
    });
    let access = RouteAccess {
        auth_mode: api.settings.auth_mode,
        security_level: api.settings.security_level,
        max_qps: api.settings.max_qps.and_then(NonZeroU32::new),
    };
    Some(Route {
        api_id: api.id,
        workgroup_id: api.workgroup_id,
        api_name: api.name,
        method,
        path: api.path,
        access,
        served,
        gray,
    })
}

fn compile_variant(
    number: i64,
    definition: &ApiDefinition,
    datasource: Option<&Datasource>,
) -> Result<Variant, String> {
    let plugin = plugins::compile(definition, datasource)?;
    let version_header = HeaderValue::from_str(&format!("V{number}")).map_err(|e| e.to_string())?;
    Ok(Variant { version: number, version_header, plugin })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ten_percent_share_lands_within_half_a_percent_over_100k_keys() {
        let keys: Vec<String> = (0..100_000).map(|i| format!("app-key-{i:08}")).collect();
        for api_id in [1, 42, 7_000_000] {
            let gray = keys.iter().filter(|k| gray_bucket(api_id, k.as_bytes()) < 1_000).count();
            let share = gray as f64 / keys.len() as f64;
            assert!((0.095..=0.105).contains(&share), "API {api_id}: {share}");
        }
    }

    #[test]
    fn buckets_are_sticky_per_key_and_independent_between_apis() {
        assert_eq!(gray_bucket(1, b"k"), gray_bucket(1, b"k"));
        let keys: Vec<String> = (0..10_000).map(|i| format!("k{i}")).collect();
        let in_both =
            keys.iter().filter(|k| gray_bucket(1, k.as_bytes()) < 1_000 && gray_bucket(2, k.as_bytes()) < 1_000);
        // Independent choices put about 1 % of callers in both 10 % shares, not 10 %.
        let both = in_both.count();
        assert!((50..=150).contains(&both), "{both} of 10000 in both shares");
    }
}
