//! The `sluice` command. The edge (`sluice serve` on pingora), the admin API and the
//! declarative `apply` / `check` commands arrive with the edge milestone; until then this binary
//! only reports its version.

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("--version") | Some("-V") => println!("sluice {}", env!("CARGO_PKG_VERSION")),
        other => {
            eprintln!(
                "sluice {}: {} is not available yet; this build holds the SQL engine only (see README.md)",
                env!("CARGO_PKG_VERSION"),
                other.map_or("serving".to_owned(), |c| format!("`{c}`"))
            );
            std::process::exit(2);
        }
    }
}
