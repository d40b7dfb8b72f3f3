//! `sluice serve`: start-up, then the pingora server with three services —
//!
//! ```text
//!   edge            (pingora service, EdgeApp) answers API calls from the snapshot: data APIs
//!                                             in place, the rest on pingora's session
//!   catalog watcher (background service)      polls the store revision, rebuilds and swaps
//!   admin           (background service)      axum: the management API
//!   call writer     (background service)      the edge's call records into calls.db
//!   shared state    (background service)      with [redis]: the Redis connection and purge
//!                                             events (docs/cluster.md)
//! ```
//!
//! Start-up work that needs the store (data dir, secret key, migrations, demo, the first
//! snapshot) runs in a short-lived runtime before pingora starts; pingora then owns every
//! runtime. Each service opens what it needs (store, pools) inside its own runtime.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use catalog::secret::SecretBox;
use catalog::store::Store;
use pingora::listeners::tls::TlsSettings;
use pingora::prelude::*;
use pingora::server::RunArgs;
use pingora::server::configuration::ServerConf;
use pingora::services::background::background_service;
use pingora::services::listening::Service;
use plugins::cache::ResultCache;
use plugins::{FunctionRunner, PluginContext};

use crate::admin_service::AdminService;
use crate::call_records::CallWriter;
use crate::demo;
use crate::functions::SandboxRunner;
use calls::Recorder;
use calls::store::Retention;
use config::Config;
use config::outbound::OutboundBase;
use proxy::client_addr::TrustedProxies;
use proxy::drain::{Drain, DrainingSignals};
use proxy::edge::{Edge, EdgeSettings};
use proxy::edge_app::EdgeApp;
use proxy::limiter::Limiters;
use proxy::routes::Snapshot;
use proxy::session_lane::SessionLane;
use proxy::shared_state::SharedStateService;
use proxy::tls::{CertWatcher, EdgeCert};
use proxy::watcher::CatalogWatcher;

/// What start-up prints: addresses and, on first start, the demo and the admin token.
pub struct Startup {
    pub secrets: SecretBox,
    pub admin_token_notice: String,
    pub demo: Option<demo::DemoInfo>,
    pub snapshot: Snapshot,
    pub outbound: OutboundBase,
    /// The result cache the versions' plugins are wrapped in, shared with the admin service's
    /// purge.
    pub cache: Arc<ResultCache>,
}

/// Runs the server until a signal stops it; `Ok` once it stopped.
pub fn serve(config: Config) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the start-up runtime: {e}"))?;
    let startup = runtime.block_on(start_up(&config))?;
    drop(runtime);

    let outbound = startup.outbound;
    let cache = startup.cache;
    let plugins = Arc::new(PluginContext::new(startup.snapshot.outbound.datasources.clone()));
    let functions: Arc<dyn FunctionRunner> = Arc::new(SandboxRunner::default());
    plugins.set_function_runner(Arc::clone(&functions));
    let metrics = calls::metrics::metrics();
    metrics.expose(calls::metrics::Exposure { token: config.metrics_token.clone(), addr: config.metrics_addr });
    metrics.set_routes(startup.snapshot.prod.len() + startup.snapshot.test.len());
    let pools = Arc::clone(&plugins);
    metrics.watch_pools(Box::new(move || pools.pool_use()));
    let snapshot = Arc::new(ArcSwap::from_pointee(startup.snapshot));
    let conf = ServerConf {
        threads: config.edge_threads(),
        // On SIGTERM the requests in flight are waited for before pingora is told to stop
        // (drain.rs), so it needs no grace period of its own.
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let shared = match &config.redis.url {
        Some(url) => {
            let shared = shared::Shared::new(url, &config.redis.key_prefix)?;
            cache.set_shared(Arc::clone(&shared));
            server.add_service(background_service("shared state", SharedStateService { shared: Arc::clone(&shared) }));
            Some(shared)
        }
        None => None,
    };
    let settings = EdgeSettings {
        max_body_bytes: config.max_body_bytes,
        body_timeout: Duration::from_millis(config.body_timeout_ms.max(1)),
        trusted_proxies: TrustedProxies::parse(&config.trusted_proxies).map_err(|e| format!("trusted_proxies: {e}"))?,
        system_qps: [
            std::num::NonZeroU32::new(config.limits.system_qps_prod),
            std::num::NonZeroU32::new(config.limits.system_qps_test),
        ],
        shared,
    };
    let limiters = Arc::new(Limiters::new());
    let drain = Drain::new();
    let calls_path = config.data_dir.join("calls.db");
    let retention = Retention { details_days: config.calls.details_days, rollup_days: config.calls.rollup_days };
    let recorder = if config.calls.records {
        let (recorder, queue) = Recorder::bounded(config.calls.queue);
        metrics.watch_queue(&recorder);
        server.add_service(background_service(
            "call writer",
            CallWriter {
                queue: std::sync::Mutex::new(Some(queue)),
                path: calls_path.clone(),
                retention,
                clickhouse_url: config.calls.clickhouse_url.clone(),
                counts: Arc::default(),
            },
        ));
        recorder
    } else {
        Recorder::off()
    };
    let edge = Edge::new(
        Arc::clone(&snapshot),
        settings,
        Arc::clone(&limiters),
        Arc::clone(&plugins),
        Arc::clone(&drain),
        recorder,
    );
    let session_lane = SessionLane::new(Arc::clone(&edge), &server.configuration);
    let app = EdgeApp::new(
        edge,
        session_lane,
        Duration::from_millis(config.header_timeout_ms.max(1)),
        Duration::from_millis(config.body_timeout_ms.max(1)),
    );
    let mut edge = Service::new("edge".to_owned(), app);
    edge.add_tcp(&config.edge_addr.to_string());
    if let (Some(addr), Some(cert_file), Some(key_file)) =
        (config.edge_tls_addr, config.tls_cert_file.as_deref(), config.tls_key_file.as_deref())
    {
        let cert = EdgeCert::load(cert_file, key_file)?;
        let (cert_text, key_text) = (cert_file.to_string_lossy(), key_file.to_string_lossy());
        let mut tls = TlsSettings::intermediate(&cert_text, &key_text).map_err(|e| format!("TLS settings: {e}"))?;
        tls.set_cert_resolver(Arc::clone(&cert) as Arc<dyn pingora::tls::ResolvesServerCert>);
        tls.enable_h2();
        edge.add_tls_with_settings(&addr.to_string(), None, tls);
        server.add_service(background_service("TLS certificate watcher", CertWatcher { cert }));
    }
    server.add_service(edge);
    server.add_service(background_service(
        "catalog watcher",
        CatalogWatcher {
            store_url: config.store_url.clone(),
            secrets: startup.secrets.clone(),
            interval: Duration::from_millis(config.reload_interval_ms.max(50)),
            snapshot: Arc::clone(&snapshot),
            outbound: outbound.clone(),
            plugins,
            limiters,
            cache: Some(Arc::clone(&cache)),
        },
    ));
    server.add_service(background_service(
        "admin",
        AdminService {
            addr: config.admin_addr,
            edge_addr: config.edge_addr,
            store_url: config.store_url.clone(),
            secrets: startup.secrets.clone(),
            snapshot,
            outbound,
            cache,
            functions,
            calls: (calls_path, retention),
            alarm_interval: Duration::from_millis(config.alarm_interval_ms),
            notify: notify::WorkerSettings {
                retry_base: Duration::from_millis(config.notify_retry_base_ms),
                ..notify::WorkerSettings::default()
            },
        },
    ));

    print_banner(&config, &startup.admin_token_notice, startup.demo.as_ref());
    let signals = DrainingSignals { drain, grace: Duration::from_secs(config.shutdown_timeout_secs) };
    server.run(RunArgs { shutdown_signal: Box::new(signals) });
    Ok(())
}

async fn start_up(config: &Config) -> Result<Startup, String> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create the data dir {}: {e}", config.data_dir.display()))?;
    let secrets = secret_box(config)?;
    let (admin_token, admin_token_notice) = admin_token(config)?;
    let store = Store::open(&config.store_url, secrets.clone())
        .await
        .map_err(|e| format!("cannot open the store {}: {e}", config.store_url))?;
    store
        .ensure_bootstrap_admin(&admin_token)
        .await
        .map_err(|e| format!("cannot register the bootstrap admin token: {e}"))?;
    let demo = if config.demo { demo::seed_if_empty(&store, config).await? } else { None };
    let outbound = OutboundBase::from_config(config)?;
    let cache = Arc::new(ResultCache::new(config.cache.max_bytes, Duration::from_secs(config.cache.default_ttl_secs)));
    let snapshot =
        Snapshot::load(&store, &outbound, Some(&cache)).await.map_err(|e| format!("cannot read the catalog: {e}"))?;
    store.close().await;
    Ok(Startup { secrets, admin_token_notice, demo, snapshot, outbound, cache })
}

/// The key that seals stored secrets: configured, or kept in `<data_dir>/secret.key`.
pub(crate) fn secret_box(config: &Config) -> Result<SecretBox, String> {
    if let Some(key) = &config.secret_key {
        return SecretBox::from_key_text(key).map_err(|e| format!("SLUICE_SECRET_KEY: {e}"));
    }
    let path = config.data_dir.join("secret.key");
    let key = read_or_create_private(&path, SecretBox::generate_key_text)?;
    SecretBox::from_key_text(&key).map_err(|e| format!("{}: {e}", path.display()))
}

/// The bootstrap admin token: configured, or generated once into `<data_dir>/admin.token`.
/// Returns the token and what to tell the operator.
fn admin_token(config: &Config) -> Result<(String, String), String> {
    if let Some(token) = &config.admin_token {
        return Ok((token.clone(), "admin token: from SLUICE_ADMIN_TOKEN".to_owned()));
    }
    let path = config.data_dir.join("admin.token");
    let existed = path.exists();
    let token = read_or_create_private(&path, || format!("slc_{:032x}", rand::random::<u128>()))?;
    let notice = if existed {
        format!("admin token: in {}", path.display())
    } else {
        format!("admin token (shown once, kept in {}): {token}", path.display())
    };
    Ok((token, notice))
}

/// Reads a one-line private file, creating it with `make` (mode 0600) when absent.
fn read_or_create_private(path: &Path, make: impl FnOnce() -> String) -> Result<String, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let value = make();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            std::io::Write::write_all(&mut file, format!("{value}\n").as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(value)
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn print_banner(config: &Config, admin_token_notice: &str, demo: Option<&demo::DemoInfo>) {
    println!("sluice {} serving", env!("CARGO_PKG_VERSION"));
    println!("  edge:  http://{}", config.edge_addr);
    println!("  admin: http://{}/admin/v1/health", config.admin_addr);
    println!("  console: http://{}{}", config.admin_addr, console::MOUNT);
    println!("  {admin_token_notice}");
    if let Some(demo) = demo {
        demo.print(config);
    }
}
