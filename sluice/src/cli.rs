//! `sluice apply` and `sluice check`: declarative files against the store; `sluice export`:
//! documents from the store to files.

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
pub fn apply(config: &Config, files: &[PathBuf], actor: Option<&str>) -> Result<(), String> {
    let actor = actor.map(str::trim).filter(|a| !a.is_empty()).unwrap_or(declarative::DEFAULT_ACTOR);
    // apply runs the checks itself, with the store's datasources in view.
    let bundle = declarative::load(files).map_err(report)?;
    // The sandbox is here, not in `declarative`: its compile check comes first.
    let problems = declarative::check_functions(&bundle, &sandbox_check);
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
        let outcome = declarative::apply_as(&bundle, &store, &outbound, actor).await.map_err(report);
        store.close().await;
        println!("{}", outcome?);
        Ok(())
    })
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
