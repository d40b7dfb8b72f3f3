use std::sync::atomic::AtomicUsize;

use catalog::model::{ApiOptions, WizardSpec};
use serde_json::json;

use super::*;
use crate::error::ErrorCode;

/// A plugin that counts its runs and answers the `id` it was called with; `id=fail` fails.
#[derive(Debug, Default)]
struct Counting {
    runs: AtomicUsize,
}

#[async_trait]
impl ApiPlugin for Counting {
    fn mode(&self) -> &'static str {
        "wizard"
    }
    fn request_params(&self) -> &[RequestParam] {
        &[]
    }
    async fn invoke(&self, _ctx: &PluginContext, call: &Call) -> Result<CallOutput, ApiError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        let id = match call.params.get("id") {
            Some(RawParam::Text(t)) => t.clone(),
            _ => String::new(),
        };
        if id == "fail" {
            return Err(ApiError::new(ErrorCode::InternalError, "failed"));
        }
        let format = call.format.resolve(ResultFormat::Json);
        Ok(CallOutput::Data {
            data: format!("{}[{id:?}]", format.as_str()).into_bytes(),
            row_count: 1,
            timings: StageTimings::default(),
            format,
            page: None,
        })
    }

    fn answer_format(&self) -> Option<ResultFormat> {
        Some(ResultFormat::Json)
    }
}

fn definition(cache: Option<CacheOptions>) -> ApiDefinition {
    ApiDefinition {
        datasource_id: Some(1),
        mode: ApiMode::Wizard(WizardSpec { table: "t".into() }),
        request_params: vec![],
        response_fields: vec![],
        options: ApiOptions { cache, ..ApiOptions::default() },
    }
}

fn call(id: &str, clearance: Option<SecurityLevel>) -> Call {
    Call { params: [("id".to_owned(), RawParam::Text(id.to_owned()))].into(), clearance, ..Call::default() }
}

fn cached(cache: &Arc<ResultCache>, api_id: i64) -> (Arc<Counting>, Arc<dyn ApiPlugin>) {
    let inner = Arc::new(Counting::default());
    let plugin = cache.wrap(api_id, "", &definition(None), Arc::clone(&inner) as Arc<dyn ApiPlugin>);
    (inner, plugin)
}

async fn status(plugin: &Arc<dyn ApiPlugin>, call: &Call) -> Result<&'static str, ApiError> {
    let (_, status) = plugin.invoke_cached(&PluginContext::default(), call).await?;
    Ok(status.map_or("none", CacheStatus::as_str))
}

#[tokio::test]
async fn a_second_call_is_a_hit_and_clearances_never_share() {
    let cache = Arc::new(ResultCache::new(1 << 20, Duration::from_secs(600)));
    let (inner, plugin) = cached(&cache, 1);
    let l2 = Some(SecurityLevel::L2);
    assert_eq!(status(&plugin, &call("1", l2)).await.unwrap(), "MISS");
    assert_eq!(status(&plugin, &call("1", l2)).await.unwrap(), "HIT");
    assert_eq!(status(&plugin, &call("2", l2)).await.unwrap(), "MISS");
    assert_eq!(status(&plugin, &call("1", Some(SecurityLevel::L3))).await.unwrap(), "MISS");
    assert_eq!(status(&plugin, &call("1", None)).await.unwrap(), "MISS");
    assert_eq!(inner.runs.load(Ordering::SeqCst), 4);
    let (output, _) = plugin.invoke_cached(&PluginContext::default(), &call("1", l2)).await.unwrap();
    let CallOutput::Data { data, .. } = output else { panic!("data") };
    assert_eq!(data, b"JSON[\"1\"]");
}

#[tokio::test]
async fn each_answer_format_has_its_own_entries() {
    use crate::format::Requested;
    let cache = Arc::new(ResultCache::new(1 << 20, Duration::from_secs(600)));
    let (inner, plugin) = cached(&cache, 1);
    let asking = |format| Call { format, ..call("1", None) };
    assert_eq!(status(&plugin, &asking(Requested::Configured)).await.unwrap(), "MISS");
    // JSON asked for by name is the configured JSON: the same entry.
    assert_eq!(status(&plugin, &asking(Requested::Json)).await.unwrap(), "HIT");
    assert_eq!(status(&plugin, &asking(Requested::Xml)).await.unwrap(), "MISS");
    assert_eq!(status(&plugin, &asking(Requested::Csv)).await.unwrap(), "MISS");
    assert_eq!(status(&plugin, &asking(Requested::Xml)).await.unwrap(), "HIT");
    assert_eq!(inner.runs.load(Ordering::SeqCst), 3);
    let (output, _) = plugin.invoke_cached(&PluginContext::default(), &asking(Requested::Xml)).await.unwrap();
    let CallOutput::Data { data, format, .. } = output else { panic!("data") };
    assert_eq!((data.as_slice(), format), (&b"XML[\"1\"]"[..], ResultFormat::Xml));
}

#[tokio::test]
async fn a_purge_and_a_new_compile_reach_new_entries() {
    let cache = Arc::new(ResultCache::new(1 << 20, Duration::from_secs(600)));
    let (inner, plugin) = cached(&cache, 7);
    assert_eq!(status(&plugin, &call("1", None)).await.unwrap(), "MISS");
    cache.purge(8);
    assert_eq!(status(&plugin, &call("1", None)).await.unwrap(), "HIT");
    cache.purge(7);
    assert_eq!(status(&plugin, &call("1", None)).await.unwrap(), "MISS");
    assert_eq!(inner.runs.load(Ordering::SeqCst), 2);
    // The same version compiled again (published again) is another identity.
    let (_, again) = cached(&cache, 7);
    assert_eq!(status(&again, &call("1", None)).await.unwrap(), "MISS");
}

#[tokio::test]
async fn errors_and_dry_runs_are_not_kept() {
    let cache = Arc::new(ResultCache::new(1 << 20, Duration::from_secs(600)));
    let (inner, plugin) = cached(&cache, 1);
    assert!(status(&plugin, &call("fail", None)).await.is_err());
    assert!(status(&plugin, &call("fail", None)).await.is_err());
    assert_eq!(inner.runs.load(Ordering::SeqCst), 2);
    let dry = Call { dry_run: true, ..call("1", None) };
    assert_eq!(status(&plugin, &dry).await.unwrap(), "BYPASS");
    assert_eq!(status(&plugin, &call("1", None)).await.unwrap(), "MISS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_misses_of_one_key_run_once() {
    let cache = Arc::new(ResultCache::new(1 << 20, Duration::from_secs(600)));
    let (inner, plugin) = cached(&cache, 1);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let plugin = Arc::clone(&plugin);
            tokio::spawn(async move { status(&plugin, &call("9", None)).await.unwrap() })
        })
        .collect();
    let mut misses = 0;
    for task in tasks {
        if task.await.unwrap() == "MISS" {
            misses += 1;
        }
    }
    assert_eq!((misses, inner.runs.load(Ordering::SeqCst)), (1, 1));
}

#[tokio::test]
async fn off_a_zero_bound_and_registered_apis_are_not_wrapped() {
    let cache = Arc::new(ResultCache::new(1 << 20, Duration::from_secs(600)));
    let off = definition(Some(CacheOptions { policy: CachePolicy::Off, ttl_secs: None }));
    let plugin = cache.wrap(1, "", &off, Arc::new(Counting::default()));
    assert_eq!(status(&plugin, &call("1", None)).await.unwrap(), "none");
    let none = Arc::new(ResultCache::new(0, Duration::from_secs(600)));
    let plugin = none.wrap(1, "", &definition(None), Arc::new(Counting::default()));
    assert_eq!(status(&plugin, &call("1", None)).await.unwrap(), "none");
}

#[test]
fn a_policy_is_checked_with_what_to_fix() {
    let check = |cache: serde_json::Value| {
        let mut def = definition(None);
        def.options.cache = Some(serde_json::from_value(cache).unwrap());
        check_policy(&def).map_err(|e| (e.field.path(), e.message))
    };
    assert!(check(json!({"policy": "system"})).is_ok());
    assert!(check(json!({"policy": "off"})).is_ok());
    assert!(check(json!({"policy": "custom", "ttlSecs": 30})).is_ok());
    let (field, message) = check(json!({"policy": "custom"})).unwrap_err();
    assert_eq!(field, "options.cache.ttlSecs");
    assert!(message.contains("needed"), "{message}");
    let (_, message) = check(json!({"policy": "custom", "ttlSecs": 0})).unwrap_err();
    assert!(message.contains("from 1 to 86400"), "{message}");
    let (_, message) = check(json!({"policy": "system", "ttlSecs": 5})).unwrap_err();
    assert!(message.contains("only with the custom policy"), "{message}");
}
