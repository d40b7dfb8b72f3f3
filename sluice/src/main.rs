//! The `sluice` command: `serve`, `apply -f`, `check -f`, `import openapi`, `export`. A thin crate that wires
//! the edge (`proxy`), the management API (`admin`), the declarative files (`declarative`)
//! and the configuration (`config`) into one process ([`serve`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use config::Config;

mod admin_service;
mod call_records;
mod cli;
mod demo;
mod functions;
mod serve;

// A request makes some sixty small allocations; mimalloc serves them in about a sixth fewer
// instructions per request than glibc's malloc (bench/results/instructions.md). The sandbox's
// meter counts what a workflow function's thread holds, so its memory limit is enforced.
#[global_allocator]
static ALLOCATOR: sandbox::MeteredAlloc<mimalloc::MiMalloc> = sandbox::MeteredAlloc::new(mimalloc::MiMalloc);

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "A data-service gateway: databases and third-party APIs as governed HTTP APIs"
)]
struct Cli {
    /// Configuration file (default: conf/sluice.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the edge and the admin API (creates the demo on first start).
    Serve,
    /// Create or update datasources and APIs from YAML files and publish them.
    Apply {
        /// A file or a directory of *.yaml files; repeat for several.
        #[arg(short = 'f', long = "file", required = true)]
        files: Vec<PathBuf>,
        /// The user name recorded as creator and last editor of the APIs written (default:
        /// `apply`).
        #[arg(long = "as", value_name = "USER")]
        actor: Option<String>,
        /// Check everything and say what would change, writing nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Validate YAML files without applying them; lists every problem with file and line.
    Check {
        #[arg(short = 'f', long = "file", required = true)]
        files: Vec<PathBuf>,
    },
    /// Create or update registered APIs from a third-party API's description.
    #[command(subcommand)]
    Import(crate::cli::Import),
    /// Write documents from the store to files.
    #[command(subcommand)]
    Export(crate::cli::Export),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = init_logging() {
        eprintln!("sluice: {e}");
        return ExitCode::from(2);
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("sluice: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = match cli.command {
        Command::Serve => crate::serve::serve(config),
        Command::Apply { files, actor, dry_run } => crate::cli::apply(&config, &files, actor.as_deref(), dry_run),
        Command::Check { files } => crate::cli::check(&config, &files),
        Command::Import(what) => crate::cli::import(&config, &what),
        Command::Export(what) => crate::cli::export(&config, &what),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sluice: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr; `RUST_LOG` filters (default: info for Sluice, warnings from pingora).
/// pingora logs through the `log` crate, which the subscriber picks up too.
/// `SLUICE_LOG_FORMAT=json` writes one JSON object per line (`timestamp`, `level`, `target`,
/// `message` and the event's fields, such as `request_id`, at the top level) for log
/// collectors; `text` (the default) is for people.
fn init_logging() -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,pingora_core=warn,pingora_proxy=warn,sqlx=warn"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let format = std::env::var("SLUICE_LOG_FORMAT").unwrap_or_default();
    // `try_init` fails only when a subscriber is already set, which nothing here does.
    match format.trim().to_ascii_lowercase().as_str() {
        "" | "text" => {
            let _ = logs.try_init();
        }
        "json" => {
            let _ = logs.json().flatten_event(true).with_current_span(false).with_span_list(false).try_init();
        }
        _ => return Err(format!("SLUICE_LOG_FORMAT is `text` (the default) or `json`, not `{format}`")),
    }
    Ok(())
}
