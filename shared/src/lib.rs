//! What several Sluice nodes share through Redis (`docs/cluster.md`): the QPS limits of grants,
//! APIs and environments as one GCRA per key ([`Shared::limit`]), signature nonces
//! ([`Shared::first_use`]), the result cache's second tier ([`Shared::cache_get`],
//! [`Shared::cache_set`]) and purge events for every node ([`Shared::purge`], [`Shared::run`]).
//!
//! Redis may be away, and a call never waits on it for long: every operation has
//! [`OP_TIMEOUT`]. After a failure the connection is dropped and calls skip Redis — each
//! operation answers `None` and the caller uses its node's own state — until [`Shared::run`]
//! has connected again (it tries every [`RETRY`]). Going to and from that state is logged once
//! and shows in `sluice_redis_degraded`; every failed operation counts in
//! `sluice_redis_errors_total`.
//!
//! Every key starts with the configured prefix; keys never hold caller text unhashed.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisResult, Script};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

/// The longest a call waits for one Redis operation.
pub const OP_TIMEOUT: Duration = Duration::from_millis(100);
/// The longest a (re)connection attempt takes.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
/// How often a node without its Redis connection tries again.
pub const RETRY: Duration = Duration::from_millis(250);
/// How long a nonce is remembered: twice the ±300 s a signature's timestamp may be off.
pub const NONCE_WINDOW: Duration = Duration::from_secs(600);

/// GCRA over several keys at once, in order, on Redis's clock (so the nodes' clocks do not
/// matter). ARGV holds each key's emission interval and tolerance in microseconds. Each key
/// that admits is charged before the next is tried; the first that refuses stops the check
/// and answers its index (from 1) and the wait in microseconds. `{0, 0}`: admitted by all.
/// Numbers are written with `%.0f`: Lua's default formatting would round them.
const GCRA: &str = r"
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000000 + tonumber(now_t[2])
for i = 1, #KEYS do
  local t = tonumber(ARGV[2 * i - 1])
  local tau = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]))
  if tat == nil or tat < now then tat = now end
  if now < tat - tau then
    return {i, math.floor(tat - tau - now)}
  end
  local next = tat + t
  redis.call('SET', KEYS[i], string.format('%.0f', next), 'PX', string.format('%.0f', math.floor((next - now) / 1000) + 1))
end
return {0, 0}
";

/// Bumps an API's purge generation and tells every node.
const PURGE: &str = r"
local g = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('PUBLISH', ARGV[2], 'purge:' .. ARGV[1] .. ':' .. g)
return g
";

/// One limit of a [`Shared::limit`] check: a key (without the prefix) and its GCRA
/// parameters.
#[derive(Debug, Clone)]
pub struct Limit {
    pub key: String,
    /// Microseconds between two calls at the limit's rate.
    pub interval_us: u64,
    /// Microseconds of credit beyond one interval: `interval × (burst − 1)`.
    pub tolerance_us: u64,
}

/// What another node (or this one) announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// API `api_id`'s cached answers are gone; its shared generation is now `generation`.
    Purge { api_id: i64, generation: u64 },
}

type Listener = Box<dyn Fn(Event) + Send + Sync>;

/// The connection to Redis and the state around it. Share it behind an `Arc`.
pub struct Shared {
    client: Client,
    prefix: String,
    conn: ArcSwapOption<MultiplexedConnection>,
    /// Whether a failure was logged and not yet followed by a reconnection.
    degraded: AtomicBool,
    gcra: Script,
    purge: Script,
    listeners: RwLock<Vec<Listener>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("prefix", &self.prefix).field("connected", &self.is_connected()).finish()
    }
}

impl Shared {
    /// Shared state at `url` (`redis://…`), every key starting with `prefix`. Nothing is
    /// connected until [`Shared::run`] runs; until then every operation answers `None`.
    pub fn new(url: &str, prefix: &str) -> Result<Arc<Shared>, String> {
        let client = Client::open(url).map_err(|e| format!("SLUICE_REDIS_URL: {e}"))?;
        Ok(Arc::new(Shared {
            client,
            prefix: prefix.to_owned(),
            conn: ArcSwapOption::empty(),
            degraded: AtomicBool::new(false),
            gcra: Script::new(GCRA),
            purge: Script::new(PURGE),
            listeners: RwLock::new(Vec::new()),
        }))
    }

    /// Whether operations go to Redis now.
    pub fn is_connected(&self) -> bool {
        self.conn.load().is_some()
    }

    /// Calls `listener` with every event, from this node's purges too.
    pub fn on_event(&self, listener: impl Fn(Event) + Send + Sync + 'static) {
        self.listeners.write().unwrap_or_else(PoisonError::into_inner).push(Box::new(listener));
    }

    /// Keeps the connection and the event subscription up until `stop` turns true.
    pub async fn run(self: Arc<Self>, stop: watch::Receiver<bool>) {
        tokio::join!(self.keep_connected(stop.clone()), self.subscribe(stop));
    }

    /// One GCRA step for each limit in order, atomically: `Some(None)` when every limit
    /// admits the call, `Some(Some((index, wait)))` when `limits[index]` refuses it, `None`
    /// when Redis could not answer.
    pub async fn limit(&self, limits: &[Limit]) -> Option<Option<(usize, Duration)>> {
        if limits.is_empty() {
            return Some(None);
        }
        let mut invocation = self.gcra.prepare_invoke();
        for limit in limits {
            invocation.key(format!("{}rl:{}", self.prefix, limit.key));
            invocation.arg(limit.interval_us).arg(limit.tolerance_us);
        }
        let (index, wait_us): (usize, u64) =
            self.op(|mut conn| async move { invocation.invoke_async(&mut conn).await }).await?;
        Some(index.checked_sub(1).map(|i| (i, Duration::from_micros(wait_us))))
    }

    /// Records that `app_id` used `nonce`: `Some(true)` the first time within
    /// [`NONCE_WINDOW`], `Some(false)` when any node saw it already, `None` when Redis could
    /// not answer.
    pub async fn first_use(&self, app_id: i64, nonce: &str) -> Option<bool> {
        let key = format!("{}nonce:{app_id}:{}", self.prefix, digest(nonce.as_bytes()));
        let set: Option<String> = self
            .op(|mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(NONCE_WINDOW.as_millis() as u64)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Some(set.is_some())
    }

    /// A cached answer of the second tier: `Some(None)` when there is none.
    pub async fn cache_get(&self, key: &str) -> Option<Option<Vec<u8>>> {
        let key = format!("{}cache:{key}", self.prefix);
        self.op(|mut conn| async move { redis::cmd("GET").arg(key).query_async(&mut conn).await }).await
    }

    /// Keeps an answer in the second tier for `ttl`.
    pub async fn cache_set(&self, key: &str, value: &[u8], ttl: Duration) {
        let key = format!("{}cache:{key}", self.prefix);
        let ms = (ttl.as_millis() as u64).max(1);
        let _: Option<()> = self
            .op(|mut conn| async move {
                redis::cmd("SET").arg(key).arg(value).arg("PX").arg(ms).query_async(&mut conn).await
            })
            .await;
    }

    /// Bumps API `api_id`'s shared purge generation and announces it to every node (this one
    /// too, through [`Shared::on_event`]); the new generation, or `None` when Redis could not
    /// answer.
    pub async fn purge(&self, api_id: i64) -> Option<u64> {
        let mut invocation = self.purge.prepare_invoke();
        invocation.key(self.generations_key()).arg(api_id).arg(self.channel());
        self.op(|mut conn| async move { invocation.invoke_async(&mut conn).await }).await
    }

    /// Runs one operation on the current connection with [`OP_TIMEOUT`]; a failure drops the
    /// connection (calls skip Redis until [`Shared::run`] has a new one).
    async fn op<T, F, Fut>(&self, f: F) -> Option<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = self.conn.load_full()?;
        match tokio::time::timeout(OP_TIMEOUT, f(MultiplexedConnection::clone(&conn))).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                self.failed(Some(&conn), &e.to_string());
                None
            }
            Err(_) => {
                self.failed(Some(&conn), "no answer in time");
                None
            }
        }
    }

    /// Counts a failure, drops `conn` if it is still the current one, and logs the move to
    /// working alone once.
    fn failed(&self, conn: Option<&Arc<MultiplexedConnection>>, why: &str) {
        calls::metrics::metrics().redis_error();
        if let Some(conn) = conn {
            self.conn.compare_and_swap(&Some(Arc::clone(conn)), None::<Arc<MultiplexedConnection>>);
        }
        if !self.degraded.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                "Redis is unreachable ({why}): this node limits calls and checks nonces on its own until it is back"
            );
            calls::metrics::metrics().set_redis_degraded(true);
        }
    }

    async fn keep_connected(&self, mut stop: watch::Receiver<bool>) {
        let mut first = true;
        loop {
            if self.conn.load().is_none() {
                match self.connect().await {
                    Ok(conn) => {
                        self.conn.store(Some(Arc::new(conn)));
                        if self.degraded.swap(false, Ordering::AcqRel) {
                            tracing::info!("Redis is back: limits and nonces are cluster-wide again");
                            calls::metrics::metrics().set_redis_degraded(false);
                        } else if first {
                            tracing::info!("shared state in Redis: limits and nonces are cluster-wide");
                        }
                        first = false;
                    }
                    Err(why) => self.failed(None, &why),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// A new connection that answered a PING, with the scripts loaded.
    async fn connect(&self) -> Result<MultiplexedConnection, String> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT));
        let setup = async {
            let mut conn = self.client.get_multiplexed_async_connection_with_config(&config).await?;
            let _: String = redis::cmd("PING").query_async(&mut conn).await?;
            self.gcra.prepare_invoke().load_async(&mut conn).await?;
            self.purge.prepare_invoke().load_async(&mut conn).await?;
            RedisResult::Ok(conn)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT * 2, setup).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer in time".to_owned()),
        }
    }

    /// Listens to the event channel, subscribing again after a loss; after each subscription
    /// the generations are read again, so purges missed meanwhile still apply.
    async fn subscribe(&self, mut stop: watch::Receiver<bool>) {
        loop {
            if let Ok(Ok(mut pubsub)) = tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_async_pubsub()).await
                && let Ok(Ok(())) = tokio::time::timeout(CONNECT_TIMEOUT, pubsub.subscribe(self.channel())).await
            {
                self.resync().await;
                let mut messages = pubsub.on_message();
                loop {
                    tokio::select! {
                        message = messages.next() => match message {
                            Some(message) => self.dispatch(message.get_payload_bytes()),
                            None => break,
                        },
                        _ = stop.changed() => return,
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// Announces every API's current generation, as if purged again.
    async fn resync(&self) {
        let key = self.generations_key();
        let read = async {
            let mut conn = self.client.get_multiplexed_async_connection().await?;
            redis::cmd("HGETALL").arg(key).query_async::<Vec<(i64, u64)>>(&mut conn).await
        };
        if let Ok(Ok(generations)) = tokio::time::timeout(CONNECT_TIMEOUT, read).await {
            for (api_id, generation) in generations {
                self.emit(Event::Purge { api_id, generation });
            }
        }
    }

    fn dispatch(&self, payload: &[u8]) {
        let Ok(text) = std::str::from_utf8(payload) else { return };
        let mut parts = text.split(':');
        if let (Some("purge"), Some(api), Some(generation), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
            && let (Ok(api_id), Ok(generation)) = (api.parse(), generation.parse())
        {
            self.emit(Event::Purge { api_id, generation });
        }
    }

    fn emit(&self, event: Event) {
        for listener in self.listeners.read().unwrap_or_else(PoisonError::into_inner).iter() {
            listener(event);
        }
    }

    fn channel(&self) -> String {
        format!("{}events", self.prefix)
    }

    fn generations_key(&self) -> String {
        format!("{}cache:generations", self.prefix)
    }
}

/// The first 128 bits of a SHA-256, in hex: caller text as a key part.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> String {
        std::env::var("SLUICE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
    }

    fn prefix() -> String {
        format!("sluice-test:{}:{}:", std::process::id(), rand_suffix())
    }

    fn rand_suffix() -> u128 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
    }

    async fn connected() -> (Arc<Shared>, watch::Sender<bool>) {
        let shared = Shared::new(&url(), &prefix()).unwrap();
        let (stop_tx, stop) = watch::channel(false);
        tokio::spawn(Arc::clone(&shared).run(stop));
        for _ in 0..200 {
            if shared.is_connected() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(shared.is_connected(), "Redis at {} is needed", url());
        (shared, stop_tx)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gcra_admits_the_burst_then_refuses_and_charges_in_order() {
        let (shared, _stop) = connected().await;
        // One call per second, burst 3: three at once, the fourth waits about a second.
        let limit = Limit { key: "t:a".into(), interval_us: 1_000_000, tolerance_us: 2_000_000 };
        for _ in 0..3 {
            assert_eq!(shared.limit(std::slice::from_ref(&limit)).await, Some(None));
        }
        let (index, wait) = shared.limit(std::slice::from_ref(&limit)).await.unwrap().unwrap();
        assert_eq!(index, 0);
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1), "{wait:?}");
        // The first limit refusing leaves the second untouched.
        let other = Limit { key: "t:b".into(), interval_us: 1_000_000, tolerance_us: 0 };
        assert_eq!(shared.limit(&[limit.clone(), other.clone()]).await.unwrap().map(|r| r.0), Some(0));
        assert_eq!(shared.limit(std::slice::from_ref(&other)).await, Some(None));
        assert_eq!(shared.limit(&[other]).await.unwrap().map(|r| r.0), Some(0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nonces_are_first_used_once() {
        let (shared, _stop) = connected().await;
        assert_eq!(shared.first_use(1, "abc-nonce").await, Some(true));
        assert_eq!(shared.first_use(1, "abc-nonce").await, Some(false));
        assert_eq!(shared.first_use(2, "abc-nonce").await, Some(true));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn purges_reach_listeners_and_cache_entries_expire() {
        let (shared, _stop) = connected().await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        shared.on_event(move |event| {
            let _ = tx.send(event);
        });
        // The subscription may come after the first purge: its resync announces it then.
        assert_eq!(shared.purge(7).await, Some(1));
        let event = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
        assert_eq!(event, Event::Purge { api_id: 7, generation: 1 });
        shared.cache_set("k", b"answer", Duration::from_millis(300)).await;
        assert_eq!(shared.cache_get("k").await, Some(Some(b"answer".to_vec())));
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(shared.cache_get("k").await, Some(None));
        // The generations are the one key without an expiry: leave none behind.
        let key = shared.generations_key();
        let _: Option<()> =
            shared.op(|mut conn| async move { redis::cmd("DEL").arg(key).query_async(&mut conn).await }).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreachable_redis_answers_none_quickly() {
        // Port 1 on loopback: refused at once.
        let shared = Shared::new("redis://127.0.0.1:1/0", "x:").unwrap();
        let (_stop_tx, stop) = watch::channel(false);
        tokio::spawn(Arc::clone(&shared).run(stop));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(shared.first_use(1, "nonce-1234").await, None);
        assert_eq!(shared.limit(&[Limit { key: "k".into(), interval_us: 1, tolerance_us: 0 }]).await, None);
        assert!(!shared.is_connected());
    }
}
