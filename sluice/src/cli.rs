//! `sluice apply` and `sluice check`: declarative files against the store; `sluice import
//! openapi`: a third-party API's OpenAPI document as registered APIs, through apply;
//! `sluice export`: documents from the store to files.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;

use catalog::store::Store;

use crate::functions::SandboxRunner;
use crate::serve::secret_box;
use config::Config;
use config::outbound::OutboundBase;
use declarative::{self, Problem};
use plugins::FunctionRunner;

/// Validates files without touching the store: syntax, names, references, that every
/// definition and function source compiles (functions in the sandbox), that registered APIs' base URLs pass the network policy under the
/// configured allow-list (which resolves their host names), and that datasources stay in
/// their workgroup's dataset directories and off refused addresses (the configuration's
/// policy; `apply` adds the store's platform settings).
pub fn check(config: &Config, files: &[PathBuf]) -> Result<(), String> {
    let bundle = declarative::load(files).map_err(report)?;
    let mut problems = declarative::check(&bundle, &declarative::compile_sql);
    problems.extend(declarative::check_functions(&bundle, &sandbox_check));
    let outbound = OutboundBase::from_config(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let mut workgroups: Vec<(i64, String)> = Vec::new();
    for name in bundle.datasources.iter().map(|d| &d.spec.workgroup) {
        if !workgroups.iter().any(|(_, n)| n == name) {
            workgroups.push((workgroups.len() as i64 + 1, name.clone()));
        }
    }
    let policies = runtime.block_on(outbound.with(&Default::default(), &workgroups));
    problems.extend(runtime.block_on(declarative::check_upstreams(&bundle, &policies.net)));
    problems.extend(declarative::check_datasources(&bundle, &policies.datasources, &workgroups));
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    if problems.is_empty() {
        println!("ok: {}", files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "));
        Ok(())
    } else {
        Err(report(problems))
    }
}

/// Applies files to the configured store as `actor` (`apply` when `None`); a running server
/// picks the change up by itself.
pub fn apply(config: &Config, files: &[PathBuf], actor: Option<&str>, dry_run: bool) -> Result<(), String> {
    // apply runs the checks itself, with the store's datasources in view.
    let mut bundle = declarative::load(files).map_err(report)?;
    apply_bundle(config, &mut bundle, actor, dry_run, None)
}

/// Applies a bundle (from files or an import) as `actor`; with `dry_run`, says what would
/// change and writes nothing. With `reimport`, first lists how the bundle changes the
/// workgroup's APIs for their callers ([`declarative::openapi::diff`]) and keeps those changed
/// by hand since their import unless told to overwrite them ([`declarative::openapi::kept`]).
fn apply_bundle(
    config: &Config,
    bundle: &mut declarative::Bundle,
    actor: Option<&str>,
    dry_run: bool,
    reimport: Option<Reimport<'_>>,
) -> Result<(), String> {
    let actor = actor.map(str::trim).filter(|a| !a.is_empty()).unwrap_or(declarative::DEFAULT_ACTOR);
    // The sandbox is here, not in `declarative`: its compile check comes first.
    let problems = declarative::check_functions(bundle, &sandbox_check);
    if !problems.is_empty() {
        return Err(report(problems));
    }
    let outbound = OutboundBase::from_config(config)?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create the data dir {}: {e}", config.data_dir.display()))?;
    let secrets = secret_box(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    runtime.block_on(async {
        let store = Store::open(&config.store_url, secrets).await.map_err(|e| format!("cannot open the store: {e}"))?;
        let changes = match reimport {
            Some(reimport) => reimport_changes(&store, reimport, bundle).await,
            None => Ok(String::new()),
        };
        if changes.is_err() {
            store.close().await;
        }
        print!("{}", changes?);
        let write = if dry_run { declarative::Write::DryRun } else { declarative::Write::Store };
        let options = declarative::ApplyOptions { actor, write, operator: true, environment: true };
        let outcome = declarative::apply_with(bundle, &store, &outbound, options).await.map_err(report);
        store.close().await;
        let outcome = outcome?;
        if dry_run {
            println!("dry run: nothing was written; apply would do this:");
        }
        println!("{outcome}");
        Ok(())
    })
}

/// What `sluice import` reads.
#[derive(Debug, Subcommand)]
pub enum Import {
    /// An OpenAPI 3.0 or 3.1 document (JSON or YAML): one registered API per operation,
    /// applied like a file of `kind: Api` documents (docs/import.md).
    Openapi {
        /// The document.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// The workgroup the APIs belong to.
        #[arg(long)]
        workgroup: String,
        /// The upstream's base URL (default: the document's first server).
        #[arg(long)]
        base_url: Option<String>,
        /// Put before every operation's path on Sluice's side, such as `/petstore`.
        #[arg(long, default_value = "")]
        path_prefix: String,
        /// Publish the imported versions to this environment (repeat for both); by default
        /// nothing is published.
        #[arg(long, value_name = "ENV")]
        publish: Vec<catalog::model::Environment>,
        /// Anyone may call the imported APIs; by default callers need an app and a grant.
        #[arg(long)]
        public: bool,
        /// The user recorded as creator and last editor (default: `apply`).
        #[arg(long = "as", value_name = "USER")]
        actor: Option<String>,
        /// Check everything and say what would be created, changed or left alone; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also write the APIs as a declarative file (`kind: Api` documents) for review.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Replace APIs changed by hand since they were imported (by default they are kept).
        #[arg(long)]
        overwrite: bool,
    },
}

/// An import applied over a workgroup's existing APIs.
#[derive(Debug, Clone, Copy)]
struct Reimport<'a> {
    workgroup: &'a str,
    overwrite: bool,
}

/// Imports a document: what could not be mapped is listed with its JSON pointer, the rest
/// goes through apply (or its dry run).
pub fn import(config: &Config, what: &Import) -> Result<(), String> {
    let Import::Openapi { file, workgroup, base_url, path_prefix, publish, public, actor, dry_run, output, overwrite } =
        what;
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let doc = declarative::openapi::parse_document(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let options = declarative::openapi::ImportOptions {
        workgroup: workgroup.clone(),
        base_url: base_url.clone(),
        path_prefix: path_prefix.clone(),
        publish: publish.clone(),
        public: *public,
        secrets: declarative::openapi::Secrets::Environment,
    };
    let imported = declarative::openapi::import(&doc, &options);
    for problem in &imported.problems {
        let what = if problem.fatal { "cannot import" } else { "left out" };
        eprintln!("{}#{}: {what}: {}", file.display(), problem.pointer, problem.message);
    }
    if imported.problems.iter().any(|p| p.fatal) {
        return Err(format!("{} cannot be imported", file.display()));
    }
    if let Some(output) = output {
        let yaml = imported.to_yaml()?;
        std::fs::write(output, yaml).map_err(|e| format!("cannot write {}: {e}", output.display()))?;
        println!("wrote {}", output.display());
    }
    let apis = imported.into_specs(file).map_err(report)?;
    if apis.is_empty() {
        return Err(format!("{} describes no operation that can be imported", file.display()));
    }
    let mut bundle = declarative::Bundle { apis, ..Default::default() };
    let reimport = Reimport { workgroup, overwrite: *overwrite };
    apply_bundle(config, &mut bundle, actor.as_deref(), *dry_run, Some(reimport))
}

/// How an import changes the workgroup's existing APIs ([`declarative::openapi::kept::reimport`]),
/// a line each; empty for a new workgroup or when nothing already imported changes.
async fn reimport_changes(
    store: &Store,
    Reimport { workgroup, overwrite }: Reimport<'_>,
    bundle: &mut declarative::Bundle,
) -> Result<String, String> {
    let existing = match store.workgroup_by_name(workgroup).await {
        Ok(found) => store.list_apis(found.id).await.map_err(|e| format!("cannot read the store: {e}"))?,
        Err(catalog::store::StoreError::NotFound { .. }) => return Ok(String::new()),
        Err(e) => return Err(format!("cannot read the store: {e}")),
    };
    let reimport = declarative::openapi::kept::reimport(store, &existing, &mut bundle.apis, overwrite)
        .await
        .map_err(|e| format!("cannot read the store: {e}"))?;
    let mut out = String::new();
    for api in &reimport.edited {
        let reason = api.reason();
        if reimport.overwritten {
            out.push_str(&format!("api {workgroup}/{}: overwritten although {reason}\n", api.name));
        } else {
            out.push_str(&format!("api {workgroup}/{}: kept as it is: {reason} (--overwrite replaces it)\n", api.name));
        }
    }
    for change in reimport.changes {
        out.push_str(&format!("operation {workgroup}/{}: {}", change.name, change.kind.as_str()));
        for why in &change.breaking {
            out.push_str(&format!("\n  BREAKING: {why}"));
        }
        for what in &change.compatible {
            out.push_str(&format!("\n  {what}"));
        }
        out.push('\n');
    }
    Ok(out)
}

/// What `sluice export` writes.
#[derive(Debug, Subcommand)]
pub enum Export {
    /// The OpenAPI 3.1 document of everything a workgroup publishes to production (the same
    /// as `GET /admin/v1/workgroups/{workgroup}/openapi.json`).
    Openapi {
        /// The workgroup's name.
        #[arg(long)]
        workgroup: String,
        /// Where to write it (default: `<workgroup>.openapi.json`; `-` for stdout).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
}

/// Writes a document from the configured store; the edge address of the configuration is the
/// documents' server. The document is written as it is built, straight to its file.
pub fn export(config: &Config, what: &Export) -> Result<(), String> {
    let Export::Openapi { workgroup, output } = what;
    let secrets = secret_box(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let (name, apis) = runtime.block_on(async {
        let store = Store::open(&config.store_url, secrets).await.map_err(|e| format!("cannot open the store: {e}"))?;
        let outcome = async {
            let found =
                store.workgroup_by_name(workgroup).await.map_err(|e| format!("workgroup `{workgroup}`: {e}"))?;
            let apis = admin::docs::published_in(&store, &found)
                .await
                .map_err(|e| format!("cannot read the published APIs: {e}"))?;
            Ok::<_, String>((found.name, apis))
        }
        .await;
        store.close().await;
        outcome
    })?;
    let server = format!("http://{}", config.edge_addr);
    let doc = openapi::workgroup_document(&name, &apis, &server);
    let output = output.clone().unwrap_or_else(|| PathBuf::from(format!("{workgroup}.openapi.json")));
    let write = |out: &mut dyn Write| {
        let mut out = std::io::BufWriter::new(out);
        openapi::write_json(&doc, &mut out, true)?;
        out.write_all(b"\n")?;
        out.flush()
    };
    if output.as_os_str() == "-" {
        return write(&mut std::io::stdout().lock()).map_err(|e| format!("cannot write the document: {e}"));
    }
    let written = std::fs::File::create(&output).and_then(|mut file| write(&mut file));
    written.map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    println!("wrote {}", output.display());
    Ok(())
}

/// Whether a function's source compiles in the sandbox, as the edge will run it.
fn sandbox_check(name: &str, source: &str) -> Result<(), String> {
    SandboxRunner::default().check(name, source)
}

fn report(problems: Vec<Problem>) -> String {
    let count = problems.len();
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    format!("{count} problem{}:\n{}", if count == 1 { "" } else { "s" }, lines.join("\n"))
}
