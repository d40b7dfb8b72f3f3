//! Embeds the console's built files (`web/dist`, written by `npm run build` through
//! `scripts/console`) into the crate: one table entry per file, with its gzip twin when the
//! build wrote one. Without a build the table holds a page that says how to make one, so
//! the workspace still compiles on a machine without Node.js.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dist = manifest.join("web").join("dist");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=web/dist");
    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        collect(&dist, &dist, &mut files);
    } else {
        println!("cargo:warning=the console is not built (run ./scripts/console); /console/ will say so");
        files.push(("index.html".to_owned(), manifest.join("src").join("unbuilt.html")));
    }
    files.sort();
    let mut table = String::from("&[\n");
    for (name, path) in &files {
        let gzip = PathBuf::from(format!("{}.gz", path.display()));
        let gzip = if gzip.is_file() {
            format!("Some(include_bytes!({:?}))", gzip.display().to_string())
        } else {
            "None".to_owned()
        };
        let _ = writeln!(
            table,
            "    Asset {{ path: {name:?}, content_type: {:?}, body: include_bytes!({:?}), gzip: {gzip} }},",
            content_type(name),
            path.display().to_string(),
        );
    }
    table.push(']');
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default()).join("assets.rs");
    let code = format!("/// Every embedded file, sorted by path.\npub(crate) static ASSETS: &[Asset] = {table};\n");
    if let Err(e) = fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}

/// Files under `dir` as (path relative to `root` with `/`, absolute path); gzip twins aside.
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.extension().is_none_or(|e| e != "gz") {
            let Ok(relative) = path.strip_prefix(root) else { continue };
            let name = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            files.push((name, path));
        }
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
