//! `kind: Webhook` documents: read without secrets, checked with lines, applied by workgroup
//! and name, a stored channel's secret kept.

use catalog::model::{NotificationEvent, WebhookTemplate};

use super::*;

fn bundle_of(text: &str) -> Result<Bundle, Vec<Problem>> {
    let dir = std::env::temp_dir().join(format!(
        "sluice-declarative-hook-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hooks.yaml");
    std::fs::write(&path, text).unwrap();
    let loaded = load(&[path]);
    let _ = std::fs::remove_dir_all(&dir);
    loaded
}

const HOOK: &str = "kind: Webhook
workgroup: demo
name: ops
url: https://open.feishu.cn/open-apis/bot/v2/hook/abc
template: lark
events: [grant.expiring, approval.needed]
";

#[test]
fn webhooks_read_and_are_checked_with_their_lines() {
    let files = bundle_of(HOOK).unwrap();
    let spec = &files.webhooks[0].spec;
    assert_eq!((spec.template, spec.enabled), (WebhookTemplate::Lark, true));
    assert_eq!(spec.events, vec![NotificationEvent::GrantExpiring, NotificationEvent::ApprovalNeeded]);
    assert!(check(&files, &compile_sql).is_empty());

    // A secret has no place in files.
    let problems = bundle_of(&format!("{HOOK}secret: s3cret\n")).unwrap_err();
    assert!(problems[0].message.contains("secret"), "{problems:?}");
    assert!(!problems[0].message.contains("s3cret"), "{problems:?}");

    let bad = "kind: Webhook\nworkgroup: demo\nname: bad\nurl: http://user:pw@hooks.example.com/\n---\n\
               kind: Webhook\nworkgroup: demo\nname: bad\nurl: ftp://x/\nevents: [webhook.test]\n";
    let problems = check(&bundle_of(bad).unwrap(), &compile_sql);
    // The user name in the first URL, then the second channel's name (defined twice), URL and
    // event, each at its line.
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![4, 8, 9, 10], "{problems:?}");
    assert!(problems[1].message.contains("defined twice"), "{problems:?}");
    let unknown =
        bundle_of("kind: Webhook\nworkgroup: demo\nname: x\nurl: https://a.example/\nevents: [api.deleted]\n");
    assert!(unknown.unwrap_err()[0].message.contains("api.deleted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_then_leaves_webhooks_alone_and_keeps_their_secret() {
    let store = catalog::store::Store::open(
        "sqlite::memory:",
        catalog::secret::SecretBox::from_key_text(&catalog::secret::SecretBox::generate_key_text()).unwrap(),
    )
    .await
    .unwrap();
    let data_dir = std::env::temp_dir().join(format!("sluice-declarative-hookdata-{}", std::process::id()));
    let dir = data_dir.display().to_string();
    let config =
        config::Config::from_sources(None, "tests", |key| (key == "SLUICE_DATA_DIR").then(|| dir.clone())).unwrap();
    let outbound = config::outbound::OutboundBase::from_config(&config).unwrap();

    let files = bundle_of(HOOK).unwrap();
    let report = apply(&files, &store, &outbound).await.unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(report.workgroups_created, vec!["demo"]);
    assert_eq!(report.webhooks[0].change, Change::Created);
    assert!(report.to_string().contains("webhook demo/ops: created"), "{report}");
    let again = apply(&files, &store, &outbound).await.unwrap();
    assert!(again.is_noop(), "the same files again change nothing: {again}");

    // A secret set over the management API survives an apply that changes the channel.
    let workgroup = store.workgroup_by_name("demo").await.unwrap();
    let mut stored = store.webhooks(workgroup.id).await.unwrap()[0].clone();
    stored.secret = Some("kept".into());
    store.update_webhook(&stored).await.unwrap();
    let changed = bundle_of(&HOOK.replace("template: lark", "template: slack")).unwrap();
    let report = apply(&changed, &store, &outbound).await.unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(report.webhooks[0].change, Change::Updated);
    let after = store.webhooks(workgroup.id).await.unwrap()[0].clone();
    assert_eq!((after.template, after.has_secret), (WebhookTemplate::Slack, true));
    assert!(apply(&changed, &store, &outbound).await.unwrap().is_noop());
    store.close().await;
}
