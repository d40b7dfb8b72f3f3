//! The result cache (`docs/cache.md`): a decorator around a compiled version's plugin that
//! keeps its answers in a bounded in-process cache for the version's time to live.
//!
//! The key is the compiled version's identity (new for every compile, so publishing, taking
//! offline or a gray change reach new entries at once), the API's purge generation, the
//! environment, the caller's clearance, the answer format the call resolves to (`Accept`) and
//! the call's parameters sorted by name; never the credentials. Concurrent misses of one key run the inner plugin once (single flight); the
//! others wait for its answer. Errors are not kept.
//!
//! With Redis ([`ResultCache::set_shared`]) a local miss looks in a second tier shared by
//! every node before running the query, and a run keeps its answer there too. That tier's key
//! must be the same on every node, so it names the version by API, version number and a
//! digest of its definition and datasource instead of the per-compile identity, and the
//! API's purge generation is the shared one (kept in Redis, announced to every node, which
//! then also makes its own entries of the API unreachable).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use catalog::model::{ApiDefinition, ApiMode, CacheOptions, CachePolicy, Environment, ResultFormat, SecurityLevel};
use dashmap::DashMap;
use moka::Expiry;
use moka::future::Cache;

use crate::call::{BodyUse, Call, CallOutput};
use crate::error::{ApiError, DefinitionError};
use crate::sql::StageTimings;
use crate::sql::encode::PageInfo;
use crate::sql::value::RawParam;
use crate::{ApiPlugin, PluginContext, RequestParam};

/// The longest time a `custom` policy may keep an answer.
pub const MAX_TTL_SECS: u32 = 86_400;

/// Whether an answer came from the cache (`X-Sluice-Cache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Served from the cache; the entry is this old (`Age`).
    Hit { age: Duration },
    /// Run now and kept.
    Miss,
    /// Run without the cache (a dry run, an answer that cannot be kept).
    Bypass,
}

impl CacheStatus {
    /// The header's value.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit { .. } => "HIT",
            CacheStatus::Miss => "MISS",
            CacheStatus::Bypass => "BYPASS",
        }
    }
}

/// Checks a definition's cache policy: `custom` needs `ttlSecs` from 1 to
/// [`MAX_TTL_SECS`], the others take none, and registered APIs are not cached yet.
pub fn check_policy(definition: &ApiDefinition) -> Result<(), DefinitionError> {
    let Some(options) = definition.options.cache else { return Ok(()) };
    match (options.policy, options.ttl_secs) {
        (CachePolicy::Custom, Some(ttl)) if (1..=MAX_TTL_SECS).contains(&ttl) => {}
        (CachePolicy::Custom, Some(ttl)) => {
            return Err(DefinitionError::at(
                "options.cache.ttlSecs",
                format!("options.cache.ttlSecs must be from 1 to {MAX_TTL_SECS}, not {ttl}"),
            ));
        }
        (CachePolicy::Custom, None) => {
            return Err(DefinitionError::at(
                "options.cache.ttlSecs",
                "options.cache.ttlSecs is needed with the custom policy (seconds, from 1 to 86400)",
            ));
        }
        (policy, Some(_)) => {
            return Err(DefinitionError::at(
                "options.cache.ttlSecs",
                format!(
                    "options.cache.ttlSecs goes only with the custom policy: remove it, or set policy to custom \
                     (the {} policy has its own time)",
                    match policy {
                        CachePolicy::System => "system",
                        _ => "off",
                    }
                ),
            ));
        }
        (_, None) => {}
    }
    if matches!(definition.mode, ApiMode::Registered(_)) && options.policy != CachePolicy::Off {
        return Err(DefinitionError::at(
            "options.cache.policy",
            "registered APIs are not cached yet: set options.cache.policy to off or leave options.cache out",
        ));
    }
    Ok(())
}

/// The bounded cache every cached version shares, and the APIs' purge generations.
pub struct ResultCache {
    entries: Cache<Key, Arc<Entry>>,
    default_ttl: Duration,
    enabled: bool,
    generations: DashMap<i64, Arc<AtomicU64>>,
    /// The second tier, with several nodes.
    shared: OnceLock<Arc<shared::Shared>>,
    /// The shared purge generation last heard of, by API.
    shared_generations: DashMap<i64, u64>,
}

impl std::fmt::Debug for ResultCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultCache")
            .field("entries", &self.entries.entry_count())
            .field("default_ttl", &self.default_ttl)
            .finish()
    }
}

/// One cache entry's key. Parameters are kept as sent (sorted by name), so `id=42` and
/// `id=042` are two entries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    version: u64,
    generation: u64,
    env: Environment,
    clearance: Option<SecurityLevel>,
    /// The format the answer is in: a JSON answer is never served to an XML caller.
    format: ResultFormat,
    params: Vec<(String, ParamText)>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum ParamText {
    Text(String),
    Json(String),
}

#[derive(Debug)]
struct Entry {
    output: CallOutput,
    stored: Instant,
    ttl: Duration,
    weight: u32,
    /// Found in the shared tier rather than run here.
    shared_hit: bool,
}

struct EntryExpiry;

impl Expiry<Key, Arc<Entry>> for EntryExpiry {
    fn expire_after_create(&self, _key: &Key, value: &Arc<Entry>, _created_at: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Identities of compiled versions: every wrap takes a new one.
static NEXT_VERSION: AtomicU64 = AtomicU64::new(1);

impl ResultCache {
    /// A cache of at most `max_bytes` of answers (0: nothing is cached) whose `system` policy
    /// keeps answers `default_ttl`.
    pub fn new(max_bytes: u64, default_ttl: Duration) -> ResultCache {
        let entries = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_key: &Key, entry: &Arc<Entry>| entry.weight)
            .expire_after(EntryExpiry)
            .build();
        ResultCache {
            entries,
            default_ttl,
            enabled: max_bytes > 0,
            generations: DashMap::new(),
            shared: OnceLock::new(),
            shared_generations: DashMap::new(),
        }
    }

    /// Adds the shared second tier; the first one stays. Purges announced by any node make
    /// this node's entries of that API unreachable too.
    pub fn set_shared(self: &Arc<Self>, shared: Arc<shared::Shared>) {
        if self.shared.set(Arc::clone(&shared)).is_err() {
            return;
        }
        let cache: Weak<ResultCache> = Arc::downgrade(self);
        shared.on_event(move |event| {
            let shared::Event::Purge { api_id, generation } = event;
            if let Some(cache) = cache.upgrade() {
                cache.heard_purge(api_id, generation);
            }
        });
    }

    fn heard_purge(&self, api_id: i64, generation: u64) {
        let mut known = self.shared_generations.entry(api_id).or_insert(0);
        if generation > *known {
            *known = generation;
            drop(known);
            self.purge(api_id);
        }
    }

    /// Makes every entry of API `api_id` unreachable now (they age out of the bound).
    pub fn purge(&self, api_id: i64) {
        self.generation(api_id).fetch_add(1, Ordering::AcqRel);
    }

    /// [`ResultCache::purge`], and with the shared tier the same on every node: its entries
    /// there become unreachable and every node hears of it. Without Redis at the moment, only
    /// this node's entries go (logged).
    pub async fn purge_everywhere(&self, api_id: i64) {
        self.purge(api_id);
        if let Some(shared) = self.shared.get() {
            match shared.purge(api_id).await {
                Some(generation) => self.heard_purge(api_id, generation),
                None => tracing::warn!(api = api_id, "Redis is unreachable: the purge reached this node's cache only"),
            }
        }
    }

    fn generation(&self, api_id: i64) -> Arc<AtomicU64> {
        Arc::clone(&self.generations.entry(api_id).or_default())
    }

    /// The time an answer of `definition` is kept; `None`: not cached.
    fn ttl(&self, definition: &ApiDefinition) -> Option<Duration> {
        if !self.enabled {
            return None;
        }
        let default = match definition.mode {
            ApiMode::Registered(_) => CachePolicy::Off,
            _ => CachePolicy::System,
        };
        let options = definition.options.cache.unwrap_or(CacheOptions { policy: default, ttl_secs: None });
        match (options.policy, options.ttl_secs) {
            (CachePolicy::Off, _) => None,
            (CachePolicy::System, _) => Some(self.default_ttl),
            (CachePolicy::Custom, Some(secs)) => Some(Duration::from_secs(u64::from(secs))),
            (CachePolicy::Custom, None) => None,
        }
    }

    /// `plugin` (compiled from `definition`, version of API `api_id`) behind the cache when its
    /// policy caches; `plugin` itself otherwise.
    /// `identity` names the version the same way on every node (API, version number, a
    /// digest of its definition and datasource): the shared tier's part of the key.
    pub fn wrap(
        self: &Arc<Self>,
        api_id: i64,
        identity: &str,
        definition: &ApiDefinition,
        plugin: Arc<dyn ApiPlugin>,
    ) -> Arc<dyn ApiPlugin> {
        if matches!(definition.mode, ApiMode::Registered(_)) {
            return plugin;
        }
        match self.ttl(definition) {
            None => plugin,
            Some(ttl) => Arc::new(CachedApi {
                configured: plugin.answer_format().unwrap_or_default(),
                inner: plugin,
                cache: Arc::clone(self),
                version: NEXT_VERSION.fetch_add(1, Ordering::Relaxed),
                generation: self.generation(api_id),
                ttl,
                api_id,
                identity: shared::digest(identity.as_bytes()),
            }),
        }
    }
}

/// A version's plugin behind the result cache.
#[derive(Debug)]
pub struct CachedApi {
    inner: Arc<dyn ApiPlugin>,
    /// The inner plugin's configured format, which a call's `Accept` is resolved against.
    configured: ResultFormat,
    cache: Arc<ResultCache>,
    version: u64,
    generation: Arc<AtomicU64>,
    ttl: Duration,
    api_id: i64,
    /// The version's identity across nodes, digested.
    identity: String,
}

/// Why a miss kept nothing: the inner plugin failed, or answered what is not kept.
#[derive(Debug, Clone)]
enum NotKept {
    Failed(ApiError),
    Passed(CallOutput),
}

impl CachedApi {
    fn key(&self, call: &Call) -> Key {
        let mut params: Vec<(String, ParamText)> = call
            .params
            .iter()
            .map(|(name, value)| {
                let text = match value {
                    RawParam::Text(t) => ParamText::Text(t.clone()),
                    RawParam::Json(v) => ParamText::Json(v.to_string()),
                };
                (name.clone(), text)
            })
            .collect();
        params.sort_unstable();
        Key {
            version: self.version,
            generation: self.generation.load(Ordering::Acquire),
            env: call.env,
            clearance: call.clearance,
            format: call.format.resolve(self.configured),
            params,
        }
    }
}

impl CachedApi {
    /// The shared tier's key: the workgroup, the API, the version's identity, the shared
    /// generation, the environment, the clearance, the answer's format and a digest of the
    /// parameters.
    fn shared_key(&self, key: &Key, workgroup: Option<i64>) -> String {
        let generation = self.cache.shared_generations.get(&self.api_id).map_or(0, |g| *g);
        let mut params = String::new();
        for (name, value) in &key.params {
            let (kind, text) = match value {
                ParamText::Text(t) => ('t', t),
                ParamText::Json(t) => ('j', t),
            };
            // Lengths first: no two parameter lists write the same text.
            params.push_str(&format!("{}:{name}{kind}{}:{text}", name.len(), text.len()));
        }
        let clearance = key.clearance.map_or("all", SecurityLevel::as_str);
        format!(
            "{}:{}:{}:{generation}:{}:{clearance}:{}:{}",
            workgroup.unwrap_or(0),
            self.api_id,
            self.identity,
            key.env.as_str(),
            key.format.as_str(),
            shared::digest(params.as_bytes())
        )
    }
}

/// An answer as the shared tier keeps it, a fixed header then the bytes: a tag (`D` data,
/// `J` JSON), when it was stored (Unix milliseconds), the row count, the format, and the page
/// (a flag: 0 none, 1 without total, 2 with total; then number, size and total).
const SHARED_HEADER: usize = 1 + 8 + 8 + 1 + 1 + 24;

fn encode_shared(output: &CallOutput) -> Option<Vec<u8>> {
    let (tag, rows, format, page, body) = match output {
        CallOutput::Data { data, row_count, format, page, .. } => {
            (b'D', *row_count as u64, *format, *page, data.clone())
        }
        CallOutput::Json(value) => (b'J', 0, ResultFormat::Json, None, serde_json::to_vec(value).ok()?),
        _ => return None,
    };
    let mut bytes = Vec::with_capacity(SHARED_HEADER + body.len());
    bytes.push(tag);
    bytes.extend_from_slice(&unix_ms().to_le_bytes());
    bytes.extend_from_slice(&rows.to_le_bytes());
    bytes.push(format_byte(format));
    let (flag, page) = match page {
        None => (0, PageInfo::default()),
        Some(p) if p.total.is_none() => (1, p),
        Some(p) => (2, p),
    };
    bytes.push(flag);
    for n in [page.page_num, page.page_size, page.total.unwrap_or(0)] {
        bytes.extend_from_slice(&n.to_le_bytes());
    }
    bytes.extend_from_slice(&body);
    Some(bytes)
}

/// The answer and its age; `None` for bytes this build did not write.
fn decode_shared(bytes: &[u8]) -> Option<(CallOutput, Duration)> {
    let header = bytes.get(..SHARED_HEADER)?;
    let body = bytes.get(SHARED_HEADER..)?;
    let u64_at = |at: usize| header.get(at..at + 8)?.try_into().ok().map(u64::from_le_bytes);
    let stored = u64_at(1)?;
    let rows = u64_at(9)?;
    let format = format_of_byte(header[17])?;
    let (num, size, total) = (u64_at(19)?, u64_at(27)?, u64_at(35)?);
    let page = match header[18] {
        0 => None,
        1 => Some(PageInfo { page_num: num, page_size: size, total: None }),
        2 => Some(PageInfo { page_num: num, page_size: size, total: Some(total) }),
        _ => return None,
    };
    let output = match header[0] {
        b'D' => CallOutput::Data {
            data: body.to_vec(),
            row_count: usize::try_from(rows).ok()?,
            timings: StageTimings::default(),
            format,
            page,
        },
        b'J' => CallOutput::Json(serde_json::from_slice(body).ok()?),
        _ => return None,
    };
    Some((output, Duration::from_millis(unix_ms().saturating_sub(stored))))
}

fn format_byte(format: ResultFormat) -> u8 {
    match format {
        ResultFormat::Json => 0,
        ResultFormat::JsonCompact => 1,
        ResultFormat::Xml => 2,
        ResultFormat::Csv => 3,
    }
}

fn format_of_byte(byte: u8) -> Option<ResultFormat> {
    Some(match byte {
        0 => ResultFormat::Json,
        1 => ResultFormat::JsonCompact,
        2 => ResultFormat::Xml,
        3 => ResultFormat::Csv,
        _ => return None,
    })
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn weight(key: &Key, output: &CallOutput) -> u32 {
    let params: usize = key
        .params
        .iter()
        .map(|(n, v)| {
            n.len()
                + 16
                + match v {
                    ParamText::Text(t) | ParamText::Json(t) => t.len(),
                }
        })
        .sum();
    let body = match output {
        CallOutput::Data { data, .. } => data.len(),
        CallOutput::Json(value) => serde_json::to_vec(value).map_or(0, |v| v.len()),
        _ => 0,
    };
    u32::try_from(params + body + 128).unwrap_or(u32::MAX)
}

#[async_trait]
impl ApiPlugin for CachedApi {
    fn mode(&self) -> &'static str {
        self.inner.mode()
    }

    fn request_params(&self) -> &[RequestParam] {
        self.inner.request_params()
    }

    fn reserved_params(&self) -> &'static [&'static str] {
        self.inner.reserved_params()
    }

    fn body_use(&self) -> BodyUse {
        self.inner.body_use()
    }

    fn answer_format(&self) -> Option<ResultFormat> {
        self.inner.answer_format()
    }

    async fn invoke(&self, ctx: &PluginContext, call: &Call) -> Result<CallOutput, ApiError> {
        self.invoke_cached(ctx, call).await.map(|(output, _)| output)
    }

    async fn invoke_cached(
        &self,
        ctx: &PluginContext,
        call: &Call,
    ) -> Result<(CallOutput, Option<CacheStatus>), ApiError> {
        if call.dry_run {
            return Ok((self.inner.invoke(ctx, call).await?, Some(CacheStatus::Bypass)));
        }
        let key = self.key(call);
        let init_key = key.clone();
        let ttl = self.ttl;
        let run = async move {
            let shared = self.cache.shared.get().map(|shared| (shared, self.shared_key(&init_key, call.workgroup_id)));
            if let Some((shared, shared_key)) = &shared
                && let Some(Some(bytes)) = shared.cache_get(shared_key).await
                && let Some((output, age)) = decode_shared(&bytes)
                && age < ttl
            {
                let weight = weight(&init_key, &output);
                let stored = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
                return Ok(Arc::new(Entry { output, stored, ttl: ttl - age, weight, shared_hit: true }));
            }
            match self.inner.invoke(ctx, call).await {
                Ok(output @ (CallOutput::Data { .. } | CallOutput::Json(_))) => {
                    if let Some((shared, shared_key)) = &shared
                        && let Some(bytes) = encode_shared(&output)
                    {
                        shared.cache_set(shared_key, &bytes, ttl).await;
                    }
                    let weight = weight(&init_key, &output);
                    Ok(Arc::new(Entry { output, stored: Instant::now(), ttl, weight, shared_hit: false }))
                }
                Ok(other) => Err(NotKept::Passed(other)),
                Err(e) => Err(NotKept::Failed(e)),
            }
        };
        match self.cache.entries.entry(key).or_try_insert_with(run).await {
            Ok(entry) if entry.is_fresh() && !entry.value().shared_hit => {
                Ok((entry.into_value().output.clone(), Some(CacheStatus::Miss)))
            }
            Ok(entry) => {
                let entry = entry.into_value();
                let output = match &entry.output {
                    CallOutput::Data { data, row_count, format, page, .. } => CallOutput::Data {
                        data: data.clone(),
                        row_count: *row_count,
                        timings: StageTimings::default(),
                        format: *format,
                        page: *page,
                    },
                    other => other.clone(),
                };
                Ok((output, Some(CacheStatus::Hit { age: entry.stored.elapsed() })))
            }
            Err(not_kept) => match Arc::unwrap_or_clone(not_kept) {
                NotKept::Failed(e) => Err(e),
                NotKept::Passed(output) => Ok((output, Some(CacheStatus::Bypass))),
            },
        }
    }
}

#[cfg(test)]
mod tests;
