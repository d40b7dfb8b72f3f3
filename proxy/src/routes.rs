//! The immutable route table the edge answers from, and the snapshot that holds one table per
//! environment.
//!
//! A snapshot is built from the catalog's published versions, gray strategies and callers, off
//! the request path, and swapped in atomically (`ArcSwap`); a request reads the current one
//! without locks and never touches the metadata store.
//!
//! A rebuild compiles only what changed: each compiled version is kept under a [`VariantKey`]
//! (API, version, digest of its definition, digest of its datasource), read from the store
//! without definitions (`Store::published_digests`); versions whose key the previous snapshot
//! holds are taken from it, and only the others are read and compiled.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::Arc;

use catalog::model::{ApiDefinition, AuthMode, Datasource, Environment, SecurityLevel};
use catalog::route_space::{RouteClaim, Unserved, conflicting_pairs};
use catalog::store::{GrayRelease, PublishedDigest, Store, StoreError};
use http::{HeaderValue, Method};
use plugins::cache::ResultCache;
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

/// One compiled version of an API. Cheap to clone: the plugin is shared.
#[derive(Debug, Clone)]
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
    /// Which route answers which request, shared with the previous table while the routes
    /// claim the same methods and paths (a rebuild that changed definitions only).
    layout: Arc<Layout>,
    /// Every route given to [`RouteTable::build`], in order, served or left out.
    routes: Vec<Arc<Route>>,
}

/// The part of a table decided by the routes' APIs, workgroups, methods and paths alone.
#[derive(Default)]
struct Layout {
    /// Path → indices into the table's routes of the APIs at that path, oldest first.
    router: matchit::Router<Vec<usize>>,
    /// Served routes by API id, for in-process calls.
    by_id: HashMap<i64, usize>,
    /// Served routes by workgroup, then API name: how a workflow's API nodes name them (names
    /// are unique per workgroup; another workgroup's API of that name is not found).
    by_name: HashMap<i64, HashMap<String, usize>>,
    /// Routes left out, with why.
    refused: Vec<(usize, String)>,
    /// How many routes are served.
    len: usize,
}

impl Layout {
    /// Routes that may not be served beside others are refused, with why, rather than failing
    /// the whole table. The store refuses such paths when they are saved or published
    /// (`catalog::route_space`); this is for a store written before it did. Routes of
    /// different workgroups that claim the same requests are all left out: neither workgroup
    /// may receive the other's calls. Within one workgroup the older API keeps the path.
    fn build(routes: &[Route]) -> Layout {
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
        let mut by_path: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, route) in routes.iter().enumerate() {
            if !refused.contains_key(&i) {
                by_path.entry(&route.path).or_default().push(i);
            }
        }
        let mut layout = Layout { refused: refused.into_iter().collect(), ..Layout::default() };
        for (path, mut group) in by_path {
            group.sort_by_key(|&i| routes[i].api_id);
            if let Err(e) = layout.router.insert(path, group.clone()) {
                layout
                    .refused
                    .extend(group.into_iter().map(|i| (i, format!("path {path} conflicts with another route: {e}"))));
                continue;
            }
            layout.len += group.len();
            for i in group {
                let route = &routes[i];
                layout.by_id.insert(route.api_id, i);
                layout.by_name.entry(route.workgroup_id).or_default().insert(route.api_name.clone(), i);
            }
        }
        layout.refused.sort_by_key(|(i, _)| *i);
        layout
    }
}

/// Whether two routes claim the same requests for the same API under the same name: what a
/// layout is built from.
fn same_claim(a: &Route, b: &Route) -> bool {
    a.api_id == b.api_id
        && a.workgroup_id == b.workgroup_id
        && a.method == b.method
        && a.path == b.path
        && a.api_name == b.api_name
}

impl RouteTable {
    /// Builds a table; routes that may not be served beside others are returned as rejected,
    /// with why (see [`Layout::build`]). When `previous` holds routes claiming the same
    /// methods and paths for the same APIs, its layout is taken over, not built again.
    pub fn build(routes: Vec<Route>, previous: Option<&RouteTable>) -> (RouteTable, Vec<(Arc<Route>, String)>) {
        let layout = match previous {
            Some(previous)
                if previous.routes.len() == routes.len()
                    && previous.routes.iter().zip(&routes).all(|(a, b)| same_claim(a, b)) =>
            {
                Arc::clone(&previous.layout)
            }
            _ => Arc::new(Layout::build(&routes)),
        };
        let routes: Vec<Arc<Route>> = routes.into_iter().map(Arc::new).collect();
        let rejected = layout.refused.iter().map(|(i, why)| (Arc::clone(&routes[*i]), why.clone())).collect();
        (RouteTable { layout, routes }, rejected)
    }

    pub fn len(&self) -> usize {
        self.layout.len
    }

    pub fn is_empty(&self) -> bool {
        self.layout.len == 0
    }

    pub fn lookup(&self, method: &Method, path: &str) -> Lookup<'_> {
        let Ok(matched) = self.layout.router.at(path) else { return Lookup::NotFound };
        let at_path = matched.value.iter().map(|&i| &self.routes[i]);
        match at_path.clone().find(|r| r.serves(method)) {
            Some(route) => Lookup::Found {
                route,
                path_params: matched.params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            },
            None => Lookup::MethodNotAllowed { allowed: at_path.map(|r| r.method.clone()).collect() },
        }
    }

    /// The route of API `api_id`.
    pub fn by_id(&self, api_id: i64) -> Option<&Arc<Route>> {
        self.layout.by_id.get(&api_id).map(|&i| &self.routes[i])
    }

    /// The route of the API named `name` in workgroup `workgroup_id` (names are unique per
    /// workgroup; another workgroup's API of that name is not found).
    pub fn by_name(&self, workgroup_id: i64, name: &str) -> Option<&Arc<Route>> {
        self.layout.by_name.get(&workgroup_id)?.get(name).map(|&i| &self.routes[i])
    }

    /// The route serving `method` at `path`, without its path parameters.
    pub fn find(&self, method: &Method, path: &str) -> Option<&Arc<Route>> {
        self.layout.router.at(path).ok()?.value.iter().map(|&i| &self.routes[i]).find(|r| r.serves(method))
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
    /// Every version this snapshot compiled or took over, for the next rebuild to reuse.
    pub compiled: CompiledVersions,
    /// How many of `compiled` this snapshot compiled itself (the rest came from the previous
    /// snapshot).
    pub compiled_now: usize,
}

/// What a compiled version depends on: a version with the same key compiles to the same plugin.
/// Versions never change once saved; the digests make the key hold even so, and the
/// datasource's covers its settings and sealed password.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VariantKey {
    pub api_id: i64,
    pub version: i64,
    pub definition_hash: String,
    pub datasource_hash: String,
}

/// Compiled versions by key. Hashed with foldhash: a rebuild looks up every served version,
/// and the keys (ids and digests from the store) are not chosen by callers.
pub type CompiledVersions = HashMap<VariantKey, Variant, foldhash::fast::RandomState>;

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
    /// `cache`: the result cache the versions' plugins are wrapped in (`None`: no cache).
    pub async fn load(
        store: &Store,
        outbound: &OutboundBase,
        cache: Option<&Arc<ResultCache>>,
    ) -> Result<Snapshot, StoreError> {
        Snapshot::rebuild(store, outbound, None, cache).await
    }

    /// [`Snapshot::load`], taking every compiled version whose [`VariantKey`] is unchanged from
    /// `previous`: only new or changed versions are read and compiled.
    pub async fn rebuild(
        store: &Store,
        outbound: &OutboundBase,
        previous: Option<&Snapshot>,
        cache: Option<&Arc<ResultCache>>,
    ) -> Result<Snapshot, StoreError> {
        let revision = store.revision().await?;
        let callers = CallerTable::build(store.caller_directory().await?);
        let outbound = outbound.load(store).await?;
        let datasources = store.datasources_with_digests().await?;
        let mut snapshot = Snapshot { revision, callers, outbound, ..Snapshot::default() };
        let mut compiled = Compiled {
            previous: previous.map(|p| &p.compiled),
            now: CompiledVersions::default(),
            fresh: 0,
            cache: cache.cloned(),
        };
        for env in [Environment::Prod, Environment::Test] {
            let mut grays: HashMap<i64, GrayRelease> =
                store.gray_releases(env).await?.into_iter().map(|g| (g.strategy.api_id, g)).collect();
            let published = store.published_digests(env).await?;
            let keyed: Vec<(PublishedDigest, VariantKey)> = published
                .into_iter()
                .map(|p| {
                    let datasource_hash =
                        p.datasource_id.and_then(|id| datasources.get(&id)).map(|(_, h)| h.clone()).unwrap_or_default();
                    let key = VariantKey {
                        api_id: p.api_id,
                        version: p.version,
                        definition_hash: p.definition_hash.clone(),
                        datasource_hash,
                    };
                    (p, key)
                })
                .collect();
            // Read only the versions neither snapshot has compiled.
            let missing: Vec<(i64, i64)> =
                keyed.iter().filter(|(_, key)| !compiled.has(key)).map(|(p, _)| (p.api_id, p.version)).collect();
            let mut versions: HashMap<(i64, i64), ApiDefinition> = store
                .versions_with_secrets(&missing)
                .await?
                .into_iter()
                .map(|v| ((v.api_id, v.number), v.definition))
                .collect();
            let mut routes = Vec::with_capacity(keyed.len());
            for (published, key) in keyed {
                let datasource = published.datasource_id.and_then(|id| datasources.get(&id)).map(|(d, _)| d);
                let cache = compiled.cache.clone();
                let served = compiled.get_or_compile(key, || {
                    versions
                        .remove(&(published.api_id, published.version))
                        .ok_or_else(|| "the version was deleted while the routes were read".to_owned())
                        .and_then(|definition| {
                            compile_variant(
                                published.api_id,
                                published.version,
                                &definition,
                                datasource,
                                cache.as_ref(),
                            )
                        })
                });
                let served = match served {
                    Ok(variant) => variant,
                    Err(e) => {
                        tracing::error!(
                            api = published.name,
                            env = env.as_str(),
                            version = published.version,
                            "not served: {e}"
                        );
                        continue;
                    }
                };
                let gray = grays
                    .remove(&published.api_id)
                    .and_then(|release| gray_variant(env, &published, release, &datasources, &mut compiled));
                if let Some(route) = route(published, served, gray) {
                    routes.push(route);
                }
            }
            let (table, rejected) = RouteTable::build(routes, previous.map(|p| p.table(env)));
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
        snapshot.compiled_now = compiled.fresh;
        snapshot.compiled = compiled.now;
        Ok(snapshot)
    }
}

/// The compiled versions of a rebuild: those of the previous snapshot it may take over, and
/// those it holds so far.
struct Compiled<'a> {
    previous: Option<&'a CompiledVersions>,
    now: CompiledVersions,
    /// How many were compiled (not taken over).
    fresh: usize,
    /// The result cache new versions are wrapped in.
    cache: Option<Arc<ResultCache>>,
}

impl Compiled<'_> {
    fn has(&self, key: &VariantKey) -> bool {
        self.now.contains_key(key) || self.previous.is_some_and(|p| p.contains_key(key))
    }

    /// The variant kept under `key`, or `compile`'s, kept for the rest of the rebuild and the
    /// next one.
    fn get_or_compile(
        &mut self,
        key: VariantKey,
        compile: impl FnOnce() -> Result<Variant, String>,
    ) -> Result<Variant, String> {
        if let Some(variant) = self.now.get(&key) {
            return Ok(variant.clone());
        }
        let variant = match self.previous.and_then(|p| p.get(&key)) {
            Some(variant) => variant.clone(),
            None => {
                let variant = compile()?;
                self.fresh += 1;
                variant
            }
        };
        self.now.insert(key, variant.clone());
        Ok(variant)
    }
}

/// The gray variant of a published API, when it may be served.
fn gray_variant(
    env: Environment,
    published: &PublishedDigest,
    release: GrayRelease,
    datasources: &HashMap<i64, (Datasource, String)>,
    compiled: &mut Compiled<'_>,
) -> Option<Gray> {
    let number = release.version.number;
    let api = published;
    // A gray version reads the datasource its definition names, which is the published
    // version's unless the definition moved; then it is not served.
    if release.version.definition.datasource_id != published.datasource_id {
        tracing::error!(
            api = api.name,
            env = env.as_str(),
            version = number,
            "gray version not served: it reads another datasource"
        );
        return None;
    }
    let datasource = published.datasource_id.and_then(|id| datasources.get(&id));
    let key = VariantKey {
        api_id: api.api_id,
        version: number,
        definition_hash: release.version.definition.digest(),
        datasource_hash: datasource.map(|(_, h)| h.clone()).unwrap_or_default(),
    };
    let cache = compiled.cache.clone();
    let compiled = compiled.get_or_compile(key, || {
        compile_variant(api.api_id, number, &release.version.definition, datasource.map(|(d, _)| d), cache.as_ref())
    });
    match compiled {
        Ok(variant) => Some(Gray { basis_points: u16::from(release.strategy.percent) * 100, variant }),
        Err(e) => {
            tracing::error!(api = api.name, env = env.as_str(), version = number, "gray version not served: {e}");
            None
        }
    }
}

/// The route of a published API with its compiled versions; `None` (logged) for a method the
/// edge does not know.
fn route(api: PublishedDigest, served: Variant, gray: Option<Gray>) -> Option<Route> {
    let method = match Method::from_bytes(api.method.to_ascii_uppercase().as_bytes()) {
        Ok(m) => m,
        Err(_) => {
            tracing::error!(api = api.name, method = api.method, "not served: unknown method");
            return None;
        }
    };
    let access = RouteAccess {
        auth_mode: api.auth_mode,
        security_level: api.security_level,
        max_qps: api.max_qps.and_then(NonZeroU32::new),
    };
    Some(Route {
        api_id: api.api_id,
        workgroup_id: api.workgroup_id,
        api_name: api.name,
        method,
        path: api.path,
        access,
        served,
        gray,
    })
}

/// Compiles one version, behind the result cache when there is one and its policy caches.
fn compile_variant(
    api_id: i64,
    number: i64,
    definition: &ApiDefinition,
    datasource: Option<&Datasource>,
    cache: Option<&Arc<ResultCache>>,
) -> Result<Variant, String> {
    let plugin = plugins::compile(definition, datasource).map_err(|e| e.message)?;
    let plugin = match cache {
        Some(cache) => {
            // The same on every node for the same published version and datasource.
            let identity = format!(
                "{api_id}:{number}:{}:{:?}",
                serde_json::to_string(definition).unwrap_or_default(),
                datasource.map(Datasource::redacted)
            );
            cache.wrap(api_id, &identity, definition, plugin)
        }
        None => plugin,
    };
    let version_header = HeaderValue::from_str(&format!("V{number}")).map_err(|e| e.to_string())?;
    Ok(Variant { version: number, version_header, plugin })
}

#[cfg(test)]
mod tests {
    use super::*;
    use catalog::model::{
        ApiMode, ApiOptions, ConnectionSettings, DatasourceKind, ParamType, ResponseField, WizardSpec,
    };
    use catalog::secret::SecretBox;

    fn wizard(datasource_id: i64, table: &str) -> ApiDefinition {
        ApiDefinition {
            datasource_id: Some(datasource_id),
            mode: ApiMode::Wizard(WizardSpec { table: table.to_owned() }),
            request_params: vec![],
            response_fields: vec![ResponseField {
                name: "id".into(),
                column: None,
                field_type: ParamType::STRING,
                sort: None,
                required: false,
                example: None,
                description: String::new(),
                security_level: SecurityLevel::default(),
            }],
            options: ApiOptions::default(),
        }
    }

    fn plugin(snapshot: &Snapshot, env: Environment, api_id: i64) -> Arc<dyn ApiPlugin> {
        Arc::clone(&snapshot.table(env).by_id(api_id).expect("served").served.plugin)
    }

    #[tokio::test]
    async fn a_rebuild_compiles_only_the_versions_that_changed() {
        let secrets = SecretBox::from_key_text(&SecretBox::generate_key_text()).unwrap();
        let store = Store::open("sqlite::memory:", secrets).await.unwrap();
        let config = config::Config::from_sources(None, "tests", |_| None).unwrap();
        let outbound = OutboundBase::from_config(&config).unwrap();
        let workgroup = store.create_workgroup("sales", "").await.unwrap();
        let mut datasource = Datasource {
            id: 0,
            workgroup_id: workgroup.id,
            name: "warehouse".into(),
            kind: DatasourceKind::Postgres,
            description: String::new(),
            connection: ConnectionSettings {
                host: "db.internal".into(),
                port: 5432,
                database: "sales".into(),
                username: "reader".into(),
                password: Some("pw".into()),
                pool_size: None,
            },
        };
        datasource = store.create_datasource(&datasource).await.unwrap();
        let mut ids = Vec::new();
        for name in ["a", "b", "c"] {
            let api = catalog::model::Api {
                id: 0,
                workgroup_id: workgroup.id,
                name: name.into(),
                path: format!("/{name}"),
                method: "GET".into(),
                description: String::new(),
                folder_id: None,
                settings: Default::default(),
                draft: wizard(datasource.id, name),
                details: Default::default(),
            };
            let api = store.create_api(&api).await.unwrap();
            store.save_version(api.id, "").await.unwrap();
            store.publish(api.id, Environment::Prod, 0).await.unwrap();
            store.publish(api.id, Environment::Test, 0).await.unwrap();
            ids.push(api.id);
        }

        // Both environments serve the same versions: each is compiled once.
        let first = Snapshot::load(&store, &outbound, None).await.unwrap();
        assert_eq!((first.prod.len(), first.test.len(), first.compiled_now), (3, 3, 3));
        for id in &ids {
            assert!(Arc::ptr_eq(&plugin(&first, Environment::Prod, *id), &plugin(&first, Environment::Test, *id)));
        }

        // Nothing changed: nothing compiled, every plugin taken over.
        let second = Snapshot::rebuild(&store, &outbound, Some(&first), None).await.unwrap();
        assert_eq!((second.prod.len(), second.compiled_now, second.compiled.len()), (3, 0, 3));
        for id in &ids {
            assert!(Arc::ptr_eq(&plugin(&first, Environment::Prod, *id), &plugin(&second, Environment::Prod, *id)));
        }

        // A new version of one API in production: only it is compiled.
        store.update_draft(ids[1], &wizard(datasource.id, "b2")).await.unwrap();
        store.save_version(ids[1], "").await.unwrap();
        store.publish(ids[1], Environment::Prod, 1).await.unwrap();
        let third = Snapshot::rebuild(&store, &outbound, Some(&second), None).await.unwrap();
        assert_eq!((third.compiled_now, third.compiled.len()), (1, 4));
        assert!(!Arc::ptr_eq(&plugin(&second, Environment::Prod, ids[1]), &plugin(&third, Environment::Prod, ids[1])));
        assert_eq!(third.prod.by_id(ids[1]).unwrap().served.version, 1);
        // The same methods and paths: the routing layout is taken over, the new version served.
        assert!(Arc::ptr_eq(&second.prod.layout, &third.prod.layout));
        assert_eq!(third.prod.find(&Method::GET, "/b").unwrap().served.version, 1);
        for (env, id) in [(Environment::Prod, ids[0]), (Environment::Prod, ids[2]), (Environment::Test, ids[1])] {
            assert!(Arc::ptr_eq(&plugin(&second, env, id), &plugin(&third, env, id)), "{env:?} {id}");
        }

        // Settings apply without compiling anything.
        let mut limited = store.api(ids[0]).await.unwrap();
        limited.settings.max_qps = Some(5);
        store.update_api(&limited).await.unwrap();
        let fourth = Snapshot::rebuild(&store, &outbound, Some(&third), None).await.unwrap();
        assert_eq!(fourth.compiled_now, 0);
        assert_eq!(fourth.prod.by_id(ids[0]).unwrap().access.max_qps, NonZeroU32::new(5));

        // A new password for the datasource: every version reading it is compiled again.
        datasource.connection.password = Some("rotated".into());
        store.update_datasource(&datasource).await.unwrap();
        let fifth = Snapshot::rebuild(&store, &outbound, Some(&fourth), None).await.unwrap();
        assert_eq!((fifth.compiled_now, fifth.compiled.len()), (4, 4));
        assert!(!Arc::ptr_eq(&plugin(&fourth, Environment::Prod, ids[0]), &plugin(&fifth, Environment::Prod, ids[0])));

        // Unpublished: gone from the table and from what the next rebuild may reuse.
        store.unpublish(ids[2], Environment::Prod).await.unwrap();
        store.unpublish(ids[2], Environment::Test).await.unwrap();
        let sixth = Snapshot::rebuild(&store, &outbound, Some(&fifth), None).await.unwrap();
        assert_eq!((sixth.prod.len(), sixth.compiled_now, sixth.compiled.len()), (2, 0, 3));
        assert!(!Arc::ptr_eq(&fifth.prod.layout, &sixth.prod.layout));
        assert!(sixth.prod.find(&Method::GET, "/c").is_none() && sixth.prod.by_id(ids[2]).is_none());

        // Another path for an API: a new layout, the old path gone.
        let mut moved = store.api(ids[0]).await.unwrap();
        moved.path = "/a2".into();
        store.update_api(&moved).await.unwrap();
        let seventh = Snapshot::rebuild(&store, &outbound, Some(&sixth), None).await.unwrap();
        assert!(!Arc::ptr_eq(&sixth.prod.layout, &seventh.prod.layout));
        assert!(seventh.prod.find(&Method::GET, "/a").is_none());
        assert_eq!(seventh.prod.find(&Method::GET, "/a2").unwrap().api_id, ids[0]);
    }

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
