//! The demo: on the first start with an empty store, a `demo` workgroup with the shop dataset
//! (SQLite, shipped as `conf/demo/shop.sql`, loaded into `<data_dir>/datasets/demo/`, the
//! workgroup's dataset directory), the example APIs of `conf/examples/` (one per
//! mode, the workflow being seed 001's example, its Python function in the workgroup's
//! library), published, and a demo app (clearance L2) granted every demo API, with a token — so a
//! new user has working APIs at once. The app's key, secret and token are written to
//! `<data_dir>/demo/app.env` (mode 0600) for shells: `source data/demo/app.env`. The
//! marketplace is not empty either: `customer_by_id` is listed, and an app of a second
//! workgroup, `partners`, waits for the demo's admins to approve its application.
//!
//! The dataset and examples are compiled into the binary; the examples are also written to
//! `<data_dir>/demo/` so users can read, edit and re-apply them with `sluice apply -f`.

use std::path::{Path, PathBuf};

use catalog::model::{App, Grant, ListingInfo, SecurityLevel, VisibleRange, WorkgroupRole};
use catalog::store::{APP_TOKEN_MAX_TTL_SECS, Asking, Decision, Store};
use sqlx::{Connection, Executor};

use config::Config;
use config::outbound::OutboundBase;

/// The shop dataset, as SQL.
const SHOP_SQL: &str = include_str!("../../conf/demo/shop.sql");

/// The example definitions, by file name.
const EXAMPLES: [(&str, &str); 6] = [
    ("00-datasource.yaml", include_str!("../../conf/examples/00-datasource.yaml")),
    ("10-customer-by-id.yaml", include_str!("../../conf/examples/10-customer-by-id.yaml")),
    ("20-orders-search.yaml", include_str!("../../conf/examples/20-orders-search.yaml")),
    ("30-analytics.yaml", include_str!("../../conf/examples/30-analytics.yaml")),
    ("35-function.yaml", include_str!("../../conf/examples/35-function.yaml")),
    ("40-workflow.yaml", include_str!("../../conf/examples/40-workflow.yaml")),
];

/// The example datasource's file, in the demo workgroup's dataset directory.
const DATASET_FILE: &str = "shop.sqlite";

pub const WORKGROUP: &str = "demo";

/// What the demo created, for the start-up banner.
pub struct DemoInfo {
    pub app_key: String,
    pub app_secret: String,
    pub app_token: String,
    pub examples_dir: PathBuf,
    pub app_env: PathBuf,
}

/// The demo app's shell variables, beside the examples.
pub const APP_ENV_FILE: &str = "app.env";

impl DemoInfo {
    pub fn print(&self, config: &Config) {
        let edge = config.edge_addr;
        println!();
        println!(
            "demo: workgroup `{WORKGROUP}`, shop dataset, published APIs of each mode: wizard, script, native, workflow (definitions in {})",
            self.examples_dir.display()
        );
        println!("  demo app key:    {}", self.app_key);
        println!("  demo app secret: {} (shown once)", self.app_secret);
        println!("  demo app token:  {} (30 days)", self.app_token);
        println!("  all three are in {} for shells", self.app_env.display());
        println!("try:");
        println!("  source {}", self.app_env.display());
        println!(
            "  curl -s -H \"X-Sluice-App-Key: $APP_KEY\" -H \"Authorization: Bearer $APP_TOKEN\" http://{edge}/customers/42"
        );
        println!(
            "  curl -s -H \"X-Sluice-App-Key: $APP_KEY\" -H \"Authorization: Bearer $APP_TOKEN\" 'http://{edge}/orders/search?status=pending,shipped&pageSize=5&withTotal=true'"
        );
        println!(
            "  curl -s -G http://{edge}/analytics/query --data-urlencode \"sql=SELECT city, count(*) AS customers FROM customers GROUP BY city ORDER BY customers DESC\""
        );
        println!(
            "  curl -s -H \"X-Sluice-App-Key: $APP_KEY\" -H \"Authorization: Bearer $APP_TOKEN\" 'http://{edge}/wf/customer-check?id=1'"
        );
        println!();
    }
}

/// Creates the demo when the store holds no workgroup yet; `None` when it already has data.
pub async fn seed_if_empty(store: &Store, config: &Config) -> Result<Option<DemoInfo>, String> {
    let workgroups = store.list_workgroups().await.map_err(|e| format!("cannot read workgroups: {e}"))?;
    if !workgroups.is_empty() {
        return Ok(None);
    }
    let dataset_dir = config.data_dir.join("datasets").join(WORKGROUP);
    std::fs::create_dir_all(&dataset_dir).map_err(|e| format!("cannot create {}: {e}", dataset_dir.display()))?;
    create_dataset(&dataset_dir.join(DATASET_FILE)).await?;
    let examples_dir = config.data_dir.join("demo");
    write_examples(&examples_dir)?;
    let bundle = declarative::load(std::slice::from_ref(&examples_dir)).map_err(|problems| problem_list(&problems))?;
    let outbound = OutboundBase::from_config(config)?;
    // The demo's APIs are made by the demo, and their files name no owner.
    declarative::apply_as(&bundle, store, &outbound, "demo").await.map_err(|problems| problem_list(&problems))?;
    let workgroup = store.workgroup_by_name(WORKGROUP).await.map_err(|e| format!("demo workgroup: {e}"))?;
    let (app, secret) = store
        .create_app(workgroup.id, "demo_app", "The demo app created on first start")
        .await
        .map_err(|e| format!("cannot create the demo app: {e}"))?;
    let app = store
        .update_app(&App { clearance: SecurityLevel::L2, ..app })
        .await
        .map_err(|e| format!("cannot set the demo app's clearance: {e}"))?;
    let apis = store.list_apis(workgroup.id).await.map_err(|e| format!("cannot read the demo APIs: {e}"))?;
    for api in apis {
        let grant = Grant {
            id: 0,
            api_id: api.id,
            app_id: app.id,
            expires_at: None,
            qps: None,
            created_at: 0,
            created_by: "demo".to_owned(),
            application_id: None,
        };
        store.grant(&grant).await.map_err(|e| format!("cannot grant {} to the demo app: {e}", api.name))?;
    }
    let (_, token) = store
        .issue_app_token(app.id, APP_TOKEN_MAX_TTL_SECS)
        .await
        .map_err(|e| format!("cannot issue the demo app's token: {e}"))?;
    populate_marketplace(store, workgroup.id).await?;
    let app_env = examples_dir.join(APP_ENV_FILE);
    write_app_env(&app_env, &app.app_key, &secret, &token)?;
    Ok(Some(DemoInfo { app_key: app.app_key, app_secret: secret, app_token: token, examples_dir, app_env }))
}

/// Writes the demo app's credentials as shell variables, readable by the owner only.
fn write_app_env(path: &Path, key: &str, secret: &str, token: &str) -> Result<(), String> {
    let text = format!(
        "# The demo app's credentials (sluice serve wrote this on first start).\n\
         APP_KEY={key}\nAPP_SECRET={secret}\nAPP_TOKEN={token}\n"
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Loads the shop dataset into a new SQLite file (kept if it already exists).
async fn create_dataset(path: &Path) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    let partial = path.with_extension("sqlite.partial");
    let _ = std::fs::remove_file(&partial);
    let url = format!("sqlite://{}?mode=rwc", partial.display());
    let mut conn =
        sqlx::SqliteConnection::connect(&url).await.map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
    conn.execute(SHOP_SQL).await.map_err(|e| format!("cannot load the demo dataset: {e}"))?;
    conn.close().await.map_err(|e| format!("cannot close {}: {e}", partial.display()))?;
    // Renamed only once complete, so a crash never leaves a half-loaded dataset behind.
    std::fs::rename(&partial, path).map_err(|e| format!("cannot move the demo dataset into place: {e}"))
}

fn write_examples(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (name, text) in EXAMPLES {
        std::fs::write(dir.join(name), text).map_err(|e| format!("cannot write {}: {e}", dir.join(name).display()))?;
    }
    Ok(())
}

fn problem_list(problems: &[declarative::Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    format!("the demo definitions do not apply:\n{}", lines.join("\n"))
}

/// The API the demo lists in the marketplace, and the workgroup that applies for it.
const LISTED_API: &str = "customer_by_id";
const PARTNERS: &str = "partners";

/// Lists `customer_by_id` (made public, approved at once) and files an application for it by
/// an app of `partners`, left pending for the bootstrap admin to decide.
async fn populate_marketplace(store: &Store, workgroup_id: i64) -> Result<(), String> {
    let failed = |what: &str, e: catalog::store::StoreError| format!("cannot {what}: {e}");
    let apis = store.list_apis(workgroup_id).await.map_err(|e| failed("read the demo APIs", e))?;
    let mut api = apis
        .into_iter()
        .find(|a| a.name == LISTED_API)
        .ok_or_else(|| format!("the demo has no API `{LISTED_API}` to list"))?;
    api.settings.visible_range = VisibleRange::Public;
    let api = store.update_api(&api).await.map_err(|e| failed("make the demo API public", e))?;
    let listing = ListingInfo {
        category: "customers".to_owned(),
        tags: vec!["customers".to_owned(), "demo".to_owned()],
        summary: "One customer of the demo shop by id: name, city, sign-up time (e-mail for clearance L3).".to_owned(),
        documentation: "# Customer by id\n\n`GET /customers/{id}` answers one customer of the shop dataset.\n"
            .to_owned(),
        success_sample: Some(serde_json::json!({
            "code": "OK",
            "data": [{"id": 42, "name": "Ada", "email": "******", "city": "Lyon", "createdAt": "2024-03-01T09:30:00Z"}]
        })),
        failure_sample: Some(serde_json::json!({"code": "InvalidParameter.id", "message": "id: expected an integer"})),
        contact: "the demo data team".to_owned(),
    };
    store.save_listing_draft(api.id, &listing).await.map_err(|e| failed("write the demo listing", e))?;
    let asking = Asking { by: "admin", reason: "Share customer lookups with other teams", notify: &[] };
    let request = store.submit_listing(api.id, asking).await.map_err(|e| failed("submit the demo listing", e))?;
    let approve = Decision {
        approve: true,
        by: "sluice",
        comment: "approved when the demo was set up",
        qps: None,
        expires_at: None,
    };
    store.decide(request.id, approve).await.map_err(|e| failed("approve the demo listing", e))?;

    let partners = store
        .create_workgroup(PARTNERS, "Another team: it applied for the demo's customer lookup")
        .await
        .map_err(|e| failed("create the partners workgroup", e))?;
    let partner = store
        .create_user("partner", "A developer of the partners workgroup", false)
        .await
        .map_err(|e| failed("create the partner user", e))?;
    store
        .add_member(partners.id, partner.id, WorkgroupRole::Developer)
        .await
        .map_err(|e| failed("add the partner user", e))?;
    let (app, _) = store
        .create_app(partners.id, "partner_portal", "The partners' portal, waiting for access to customer lookups")
        .await
        .map_err(|e| failed("create the partner app", e))?;
    let asking = Asking { by: "partner", reason: "Show customer names in the partner portal", notify: &[] };
    let wanted = serde_json::json!({"qps": 10, "validityDays": 90});
    store
        .apply_for_access(api.id, app.id, asking, &wanted)
        .await
        .map_err(|e| failed("file the demo application", e))?;
    Ok(())
}
