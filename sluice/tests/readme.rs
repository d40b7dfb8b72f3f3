//! The README's tour works as written: every `curl` line in README.md runs against a real
//! `sluice serve` with its demo (addresses swapped for the test's ports) and answers as the
//! comment above it says.

mod support;

use std::process::Command;

use support::{Server, workspace_root};

/// Each curl command of the README, continuation lines joined.
fn readme_curl_lines() -> Vec<String> {
    let text = std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md");
    let mut commands = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        match current.as_mut() {
            Some(cmd) => cmd.push_str(trimmed.trim_end_matches('\\')),
            None if trimmed.starts_with("curl ") => current = Some(trimmed.trim_end_matches('\\').to_owned()),
            None => continue,
        }
        if !trimmed.ends_with('\\') {
            commands.extend(current.take());
        }
    }
    commands
}

#[test]
fn every_readme_curl_line_answers_as_described() {
    // The tests' servers run without the result cache unless asked; the tour shows a HIT.
    let server = Server::start("readme", &[("SLUICE_CACHE_MAX_BYTES", "67108864")]);
    let app = server.demo_app();
    let lines = readme_curl_lines();
    assert!(lines.len() >= 6, "the README tour lost its curl lines: {lines:?}");
    for line in lines {
        let command = line
            .replace("127.0.0.1:8080", &server.edge.to_string())
            .replace("127.0.0.1:8090", &server.admin.to_string())
            .replace("data/admin.token", &server.data_dir.join("admin.token").to_string_lossy());
        // What `source data/demo/app.env` sets.
        let output = || {
            let out = Command::new("bash")
                .arg("-c")
                .arg(&command)
                .env("APP_KEY", &app.key)
                .env("APP_TOKEN", &app.token)
                .output()
                .expect("run curl");
            assert!(out.status.success(), "{line}: curl failed: {}", String::from_utf8_lossy(&out.stderr));
            out.stdout
        };
        let run = || -> serde_json::Value {
            let stdout = output();
            serde_json::from_slice(&stdout)
                .unwrap_or_else(|e| panic!("{line}: not JSON ({e}): {}", String::from_utf8_lossy(&stdout)))
        };
        if line.contains("-D -") {
            // Headers only: the wizard call repeated, answered from the result cache.
            let head = String::from_utf8_lossy(&output()).to_ascii_lowercase();
            assert!(head.contains("x-sluice-cache: hit"), "{line}: not a hit: {head}");
            assert!(head.contains("\nage: "), "{line}: no Age: {head}");
            continue;
        }
        if line.contains("/reports/summary") {
            // The tour's calls are in the report once the writer's batch (200 ms) is stored.
            // The batches may land in parts: wait for all of them, not the first.
            let started = std::time::Instant::now();
            let calls_in = |body: &serde_json::Value| -> u64 {
                body["data"].as_array().map_or(0, |rows| rows.iter().filter_map(|row| row["calls"].as_u64()).sum())
            };
            let body = loop {
                let body = run();
                assert_eq!(body["code"], "OK", "{line}: {body}");
                if calls_in(&body) >= 7 || started.elapsed().as_secs() > 10 {
                    break body;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            };
            assert!(calls_in(&body) >= 7, "{line}: the tour's calls are not in the report: {body}");
            continue;
        }
        let body = run();
        let expected = if line.contains("sqlite_master") {
            "Forbidden.Query"
        } else if line.contains("X-Sluice-Env: test") {
            "NotFound.Api"
        } else if line.contains("/customers/") && !line.contains("X-Sluice-App-Key") {
            "Unauthorized.MissingCredentials"
        } else if line.contains("/admin/v1/health") {
            assert_eq!(body["data"]["status"], "ok", "{line}");
            continue;
        } else {
            "OK"
        };
        assert_eq!(body["code"], expected, "{line}: {body}");
        if line.contains("/wf/customer-check?id=1") {
            // The workflow answers its end node's mapping, not rows.
            assert_eq!(body["data"]["branch"], "customer 1", "{line}: {body}");
            continue;
        }
        if expected == "OK" {
            assert!(!body["data"]["rows"].as_array().is_none_or(Vec::is_empty), "{line}: no rows: {body}");
        }
        if line.contains("/customers/42") && expected == "OK" {
            assert_eq!(body["data"]["rows"][0]["email"], "******", "{line}: the L3 email is masked for L2: {body}");
        }
    }
}
