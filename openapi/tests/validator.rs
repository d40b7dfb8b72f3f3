//! Every document passes an independent OpenAPI validator: `openapi-spec-validator` (PyPI),
//! run as `python3 -m openapi_spec_validator FILE…`.
//!
//! When the module is missing the test installs it (pip, then pip --user, then a virtual
//! environment under the target dir) and fails, saying how to install it, when it cannot: a
//! document that was never validated must not pass.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PACKAGE: &str = "openapi-spec-validator";
const MODULE: &str = "openapi_spec_validator";

fn run(program: &Path, args: &[&str]) -> Option<Output> {
    Command::new(program).args(args).output().ok()
}

fn succeeds(program: &Path, args: &[&str]) -> bool {
    run(program, args).is_some_and(|o| o.status.success())
}

fn importable(python: &Path) -> bool {
    succeeds(python, &["-c", &format!("import {MODULE}")])
}

/// A Python that can import the validator, installing it when needed; the attempts made otherwise.
fn python_with_validator(scratch: &Path) -> Result<PathBuf, String> {
    let python = PathBuf::from(std::env::var("SLUICE_PYTHON").unwrap_or_else(|_| "python3".to_owned()));
    if importable(&python) {
        return Ok(python);
    }
    let mut tried = Vec::new();
    for args in
        [vec!["-m", "pip", "install", "--quiet", PACKAGE], vec!["-m", "pip", "install", "--quiet", "--user", PACKAGE]]
    {
        let outcome = run(&python, &args);
        if importable(&python) {
            return Ok(python);
        }
        tried.push(describe(&python, &args, outcome));
    }
    // Distributions that forbid installing into the system Python (PEP 668) still allow a venv.
    let venv = scratch.join("validator-venv");
    let venv_python = venv.join("bin").join("python");
    if !importable(&venv_python) {
        let venv_text = venv.to_string_lossy().into_owned();
        let created = run(&python, &["-m", "venv", &venv_text]);
        if !venv_python.exists() {
            tried.push(describe(&python, &["-m", "venv", &venv_text], created));
        } else {
            let args = ["-m", "pip", "install", "--quiet", PACKAGE];
            let outcome = run(&venv_python, &args);
            if !importable(&venv_python) {
                tried.push(describe(&venv_python, &args, outcome));
            }
        }
    }
    if importable(&venv_python) {
        return Ok(venv_python);
    }
    Err(tried.join("\n"))
}

fn describe(program: &Path, args: &[&str], outcome: Option<Output>) -> String {
    let command = format!("{} {}", program.display(), args.join(" "));
    match outcome {
        None => format!("  {command}: could not be started"),
        Some(o) => format!(
            "  {command}: {}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr).lines().take(5).map(|l| format!("    {l}\n")).collect::<String>()
        ),
    }
}

#[test]
fn every_document_passes_openapi_spec_validator() {
    let python = python_with_validator(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap_or_else(|tried| {
        panic!(
            "the independent validator `{PACKAGE}` is not installed and could not be installed:\n{tried}\n\
             Install it with `python3 -m pip install {PACKAGE}` (or point SLUICE_PYTHON at a Python that has it)."
        )
    });
    let version = run(&python, &["-c", &format!("import importlib.metadata as m; print(m.version('{PACKAGE}'))")])
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    eprintln!("validating with {PACKAGE} {version} ({})", python.display());
    // Left behind when a document fails, to be read.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("openapi-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // Every API with result samples, as users keep them: examples must keep documents valid.
    let mut apis = common::all();
    for (_, version) in &mut apis {
        version.samples.success = Some(serde_json::json!({"code": "OK", "data": {"rows": [{"id": 1}]}}));
        version.samples.failure = Some(serde_json::json!({"code": "MissingParameter.id", "message": "missing"}));
    }
    let mut files = Vec::new();
    for (api, version) in &apis {
        let path = dir.join(format!("{}.json", api.name));
        let text = openapi::to_json(&openapi::api_document(api, version, common::SERVER));
        assert!(text.contains("\"openapi\": \"3.1.0\""));
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    let mut native_post = common::native("POST");
    native_post.0.name = "adhoc_report_post".into();
    let mut everything = apis.clone();
    everything.push(native_post);
    let workgroup = dir.join("workgroup.json");
    std::fs::write(&workgroup, openapi::to_json(&openapi::workgroup_document("shop", &everything, common::SERVER)))
        .unwrap();
    files.push(workgroup);
    // What one app sees: filtered by its clearance, an anonymous API among them.
    for clearance in [catalog::model::SecurityLevel::L1, catalog::model::SecurityLevel::L4] {
        let mut granted = apis.clone();
        granted[1].0.settings.auth_mode = catalog::model::AuthMode::None;
        let app = dir.join(format!("app-{}.json", clearance.as_str()));
        std::fs::write(&app, openapi::to_json(&openapi::app_document("mobile", clearance, &granted, common::SERVER)))
            .unwrap();
        files.push(app);
    }

    let mut args = vec!["-m".to_owned(), MODULE.to_owned()];
    args.extend(files.iter().map(|f| f.to_string_lossy().into_owned()));
    let output = Command::new(&python).args(&args).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{PACKAGE} refused a document:\n{stdout}\n{stderr}");
    for file in &files {
        let line = format!("{}: OK", file.display());
        assert!(stdout.lines().any(|l| l.trim() == line), "no `{line}` in:\n{stdout}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
