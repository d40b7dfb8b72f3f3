//! Caller documents kept per catalog revision, so that a workgroup of thousands of APIs is
//! described once per change of the store rather than once per request.
//!
//! - **Keyed by what a document shows**: a workgroup's document by the workgroup, an app's by
//!   the app and its clearance ([`DocKey`]), each with the [`Store::revision`] read before its
//!   data. A key holds one document: its latest revision. Documents are never shared between
//!   keys, so one workgroup's APIs cannot reach another's document.
//! - **Single flight**: the first request for a key at a revision starts the build; requests
//!   arriving meanwhile wait for it. The build runs in its own task, so a caller that goes
//!   away does not cancel it, and the next caller finds the document.
//! - **Bounded**: at most [`Limits::builds`] builds run at once in the process (the others
//!   wait their turn), and the kept documents stay within [`Limits::docs`] documents and
//!   [`Limits::bytes`] bytes, the least recently used going first. A document larger than the
//!   byte budget is served to the requests waiting for it and not kept.
//! - **Bytes, once**: a document is kept as the chunks of its JSON ([`Doc`]), written once by
//!   the build and served by reference, never copied per request.
//!
//! [`Store::revision`]: catalog::store::Store::revision

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use axum::body::Bytes;
use catalog::model::SecurityLevel;
use http_body::{Frame, SizeHint};
use tokio::sync::{Semaphore, watch};

use crate::reply::AdminError;

/// Which document: what it depends on besides the store's revision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DocKey {
    /// Everything a workgroup publishes to production.
    Workgroup { id: i64, name: String },
    /// What an app of a workgroup may call, as an app of `clearance` sees it.
    App { workgroup_id: i64, app_id: i64, clearance: SecurityLevel },
    /// Every API listed in the marketplace.
    Marketplace,
}

/// How much the cache may hold and do at once.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Builds running at once in the process.
    pub builds: usize,
    /// Documents kept.
    pub docs: usize,
    /// Bytes of documents kept.
    pub bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { builds: 2, docs: 256, bytes: 256 << 20 }
    }
}

/// A built document: its JSON in chunks, and how long it stays true.
#[derive(Debug)]
pub struct Doc {
    chunks: Vec<Bytes>,
    len: usize,
    etag: String,
    /// Milliseconds since the Unix epoch from which the document is stale whatever the
    /// revision (an app's grant expires then); `None`: only a new revision makes it stale.
    valid_until: Option<i64>,
}

/// The size of the chunks a document is written in.
const CHUNK: usize = 64 << 10;

impl Doc {
    /// Serializes `doc` as compact JSON into chunks (no copy of the whole, no spare capacity
    /// beyond the last chunk's).
    pub fn write<T: serde::Serialize + ?Sized>(doc: &T, valid_until: Option<i64>) -> io::Result<Doc> {
        let mut writer = ChunkWriter { chunks: Vec::new(), current: Vec::with_capacity(CHUNK) };
        openapi::write_json(doc, &mut writer, false)?;
        Ok(Doc::from_chunks(writer.finish(), valid_until))
    }

    fn from_chunks(chunks: Vec<Bytes>, valid_until: Option<i64>) -> Doc {
        // FNV-1a over the bytes: the ETag changes when the document does, not with every revision.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut len = 0;
        for chunk in &chunks {
            len += chunk.len();
            for byte in chunk.iter() {
                hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        Doc { chunks, len, etag: format!("\"{len:x}-{hash:016x}\""), valid_until }
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A strong entity tag of its bytes, quoted.
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// A response body that hands out the chunks by reference.
    pub fn body(self: &Arc<Self>) -> DocBody {
        DocBody { doc: Arc::clone(self), next: 0 }
    }

    fn fresh_at(&self, now_ms: i64) -> bool {
        self.valid_until.is_none_or(|until| now_ms < until)
    }
}

/// Collects written bytes into chunks of [`CHUNK`] bytes.
struct ChunkWriter {
    chunks: Vec<Bytes>,
    current: Vec<u8>,
}

impl ChunkWriter {
    fn finish(mut self) -> Vec<Bytes> {
        if !self.current.is_empty() {
            self.chunks.push(Bytes::from(self.current));
        }
        self.chunks
    }
}

impl io::Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            if self.current.len() == CHUNK {
                let full = std::mem::replace(&mut self.current, Vec::with_capacity(CHUNK));
                self.chunks.push(Bytes::from(full));
            }
            let take = (CHUNK - self.current.len()).min(rest.len());
            self.current.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A document's chunks as an HTTP body of known length.
pub struct DocBody {
    doc: Arc<Doc>,
    next: usize,
}

impl http_body::Body for DocBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let chunk = this.doc.chunks.get(this.next).cloned();
        this.next += 1;
        Poll::Ready(chunk.map(|chunk| Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.next >= self.doc.chunks.len()
    }

    fn size_hint(&self) -> SizeHint {
        let rest: usize = self.doc.chunks.iter().skip(self.next).map(Bytes::len).sum();
        SizeHint::with_exact(rest as u64)
    }
}

/// What waiters of a build see: nothing yet, then the document or why there is none.
type Outcome = Option<Result<Arc<Doc>, AdminError>>;

/// The document of one key: the revision it describes, and the build's outcome.
struct Slot {
    revision: i64,
    /// Tells this slot's build from a later one for the same key.
    build: u64,
    /// When it was last asked for (the cache's clock), for eviction.
    used: u64,
    outcome: watch::Receiver<Outcome>,
}

impl Slot {
    /// Whether a request that read `revision` at `now_ms` may have this slot's document (or
    /// wait for it): a build of that revision or a later one, still running or done and fresh.
    fn serves(&self, revision: i64, now_ms: i64) -> bool {
        if self.revision < revision {
            return false;
        }
        match &*self.outcome.borrow() {
            Some(Ok(doc)) => doc.fresh_at(now_ms),
            Some(Err(_)) => false,
            // Running, unless its task is gone.
            None => self.outcome.has_changed().is_ok(),
        }
    }

    fn done(&self) -> Option<Arc<Doc>> {
        match &*self.outcome.borrow() {
            Some(Ok(doc)) => Some(Arc::clone(doc)),
            _ => None,
        }
    }
}

#[derive(Default)]
struct Slots {
    by_key: HashMap<DocKey, Slot>,
    clock: u64,
}

/// The documents cache of one admin service ([`crate::AdminState::docs`]).
pub struct DocCache {
    slots: Mutex<Slots>,
    permits: Arc<Semaphore>,
    limits: Limits,
    builds: AtomicU64,
}

impl Default for DocCache {
    fn default() -> DocCache {
        DocCache::new(Limits::default())
    }
}

impl DocCache {
    pub fn new(limits: Limits) -> DocCache {
        DocCache {
            slots: Mutex::default(),
            permits: Arc::new(Semaphore::new(limits.builds.max(1))),
            limits,
            builds: AtomicU64::new(0),
        }
    }

    /// How many builds have started since the cache was made (for tests and logs).
    pub fn builds(&self) -> u64 {
        self.builds.load(Ordering::Relaxed)
    }

    /// Documents kept, and their bytes.
    pub fn kept(&self) -> (usize, usize) {
        let slots = self.lock();
        let docs: Vec<Arc<Doc>> = slots.by_key.values().filter_map(Slot::done).collect();
        (docs.len(), docs.iter().map(|d| d.len()).sum())
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        // A panic while the map was held leaves it consistent (every change is one insert or
        // remove): go on with it.
        self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The document of `key` as of `revision` (read from the store before its data), at
    /// `now_ms`: the kept one, the one being built, or one `build` makes now, once a build
    /// permit is free. `build` runs in a task of its own and is dropped unused when a document
    /// is already there.
    pub async fn get_or_build<F, Fut>(
        self: &Arc<Self>,
        key: DocKey,
        revision: i64,
        now_ms: i64,
        build: F,
    ) -> Result<Arc<Doc>, AdminError>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Doc, AdminError>> + Send + 'static,
    {
        let mut outcome = {
            let mut slots = self.lock();
            slots.clock += 1;
            let clock = slots.clock;
            match slots.by_key.get_mut(&key) {
                Some(slot) if slot.serves(revision, now_ms) => {
                    slot.used = clock;
                    slot.outcome.clone()
                }
                _ => {
                    let (sender, receiver) = watch::channel(None);
                    let id = clock;
                    slots
                        .by_key
                        .insert(key.clone(), Slot { revision, build: id, used: clock, outcome: receiver.clone() });
                    let cache = Arc::clone(self);
                    tokio::spawn(async move {
                        let result = match Arc::clone(&cache.permits).acquire_owned().await {
                            Ok(_permit) => {
                                cache.builds.fetch_add(1, Ordering::Relaxed);
                                build().await.map(Arc::new)
                            }
                            Err(_) => Err(internal("the document build permits are gone")),
                        };
                        let built = result.as_ref().ok().map(Arc::clone);
                        // Sent under the lock settle takes, so what waiters see kept is final.
                        cache.settle(&key, id, built, || {
                            sender.send_replace(Some(result));
                        });
                    });
                    receiver
                }
            }
        };
        let done = outcome.wait_for(Option::is_some).await.map_err(|_| internal("a document build stopped"))?;
        match &*done {
            Some(result) => result.clone(),
            None => Err(internal("a document build stopped")),
        }
    }

    /// After build `id` of `key` finished: `publish`es its outcome to the waiters, drops its slot
    /// when it failed or is too large to keep, then evicts the least recently used documents
    /// beyond the limits — all under one lock.
    fn settle(&self, key: &DocKey, id: u64, built: Option<Arc<Doc>>, publish: impl FnOnce()) {
        let mut slots = self.lock();
        publish();
        let ours = slots.by_key.get(key).is_some_and(|slot| slot.build == id);
        if ours && built.as_ref().is_none_or(|doc| doc.len() > self.limits.bytes) {
            slots.by_key.remove(key);
        }
        loop {
            let mut count = 0;
            let mut bytes = 0;
            let mut oldest: Option<(u64, &DocKey)> = None;
            for (key, slot) in &slots.by_key {
                let Some(doc) = slot.done() else { continue };
                count += 1;
                bytes += doc.len();
                if oldest.is_none_or(|(used, _)| slot.used < used) {
                    oldest = Some((slot.used, key));
                }
            }
            if count <= self.limits.docs && bytes <= self.limits.bytes {
                return;
            }
            let Some((_, key)) = oldest else { return };
            let key = key.clone();
            slots.by_key.remove(&key);
        }
    }
}

fn internal(why: &str) -> AdminError {
    AdminError::internal(format_args!("OpenAPI document: {why}"))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    fn key(id: i64) -> DocKey {
        DocKey::Workgroup { id, name: format!("wg{id}") }
    }

    fn doc(text: &str) -> Doc {
        Doc::write(&serde_json::json!({ "text": text }), None).unwrap()
    }

    fn text(doc: &Doc) -> String {
        let bytes: Vec<u8> = doc.chunks.iter().flat_map(|c| c.iter().copied()).collect();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        value["text"].as_str().unwrap().to_owned()
    }

    /// A build that takes `ms`, counting how many run at once.
    async fn slow(text: String, ms: u64, running: Arc<AtomicUsize>, most: Arc<AtomicUsize>) -> Result<Doc, AdminError> {
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        running.fetch_sub(1, Ordering::SeqCst);
        Ok(doc(&text))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_one_build_and_later_ones_none() {
        let cache = Arc::new(DocCache::default());
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut waiting = Vec::new();
        for _ in 0..8 {
            let (cache, running, most) = (Arc::clone(&cache), Arc::clone(&running), Arc::clone(&most));
            waiting.push(tokio::spawn(async move {
                cache.get_or_build(key(1), 7, 0, move || slow("one".into(), 200, running, most)).await
            }));
        }
        let mut docs = Vec::new();
        for task in waiting {
            docs.push(task.await.unwrap().unwrap());
        }
        assert_eq!(cache.builds(), 1, "eight concurrent requests, one build");
        assert!(docs.iter().all(|d| Arc::ptr_eq(d, &docs[0])), "the same bytes for all");
        let again = cache.get_or_build(key(1), 7, 0, || async { Ok(doc("other")) }).await.unwrap();
        assert!(Arc::ptr_eq(&again, &docs[0]) && cache.builds() == 1, "kept: not built again");
        assert_eq!(text(&again), "one");
    }

    #[tokio::test]
    async fn a_new_revision_builds_afresh_and_keys_never_mix() {
        let cache = Arc::new(DocCache::default());
        let one = cache.get_or_build(key(1), 1, 0, || async { Ok(doc("wg1 r1")) }).await.unwrap();
        let two = cache.get_or_build(key(2), 1, 0, || async { Ok(doc("wg2 r1")) }).await.unwrap();
        assert_eq!((text(&one), text(&two)), ("wg1 r1".to_owned(), "wg2 r1".to_owned()));
        assert_ne!(one.etag(), two.etag());
        // Same revision, other key: its own document, never the first one's.
        let app = DocKey::App { workgroup_id: 1, app_id: 1, clearance: SecurityLevel::L1 };
        let l4 = DocKey::App { workgroup_id: 1, app_id: 1, clearance: SecurityLevel::L4 };
        let app_doc = cache.get_or_build(app, 1, 0, || async { Ok(doc("app L1")) }).await.unwrap();
        let l4_doc = cache.get_or_build(l4, 1, 0, || async { Ok(doc("app L4")) }).await.unwrap();
        assert_eq!((text(&app_doc), text(&l4_doc)), ("app L1".to_owned(), "app L4".to_owned()));
        assert_eq!(cache.builds(), 4);
        // A write: the next revision is built again; the old one is not kept beside it.
        let newer = cache.get_or_build(key(1), 2, 0, || async { Ok(doc("wg1 r2")) }).await.unwrap();
        assert_eq!((text(&newer), cache.builds()), ("wg1 r2".to_owned(), 5));
        assert_eq!(cache.kept().0, 4, "one document per key");
        // A request that read the older revision before the write gets the newer document.
        let late = cache.get_or_build(key(1), 1, 0, || async { Ok(doc("wg1 r1 again")) }).await.unwrap();
        assert_eq!((text(&late), cache.builds()), ("wg1 r2".to_owned(), 5));
    }

    #[tokio::test]
    async fn documents_expire_when_a_grant_does_and_failures_are_not_kept() {
        let cache = Arc::new(DocCache::default());
        let expiring = || async { Ok(Doc::write(&serde_json::json!({"text": "until 100"}), Some(100)).unwrap()) };
        cache.get_or_build(key(1), 1, 50, expiring).await.unwrap();
        cache.get_or_build(key(1), 1, 99, expiring).await.unwrap();
        assert_eq!(cache.builds(), 1);
        cache.get_or_build(key(1), 1, 100, expiring).await.unwrap();
        assert_eq!(cache.builds(), 2, "stale at 100 whatever the revision");

        let failed = cache.get_or_build(key(2), 1, 0, || async { Err(AdminError::forbidden("no")) }).await;
        assert_eq!(failed.unwrap_err().code(), "Forbidden");
        let retried = cache.get_or_build(key(2), 1, 0, || async { Ok(doc("second try")) }).await.unwrap();
        assert_eq!((text(&retried), cache.builds()), ("second try".to_owned(), 4));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn builds_run_at_most_the_limit_at_once_and_kept_documents_stay_within_budget() {
        let cache = Arc::new(DocCache::new(Limits { builds: 2, docs: 3, bytes: 1 << 20 }));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut waiting = Vec::new();
        for id in 0..6 {
            let (cache, running, most) = (Arc::clone(&cache), Arc::clone(&running), Arc::clone(&most));
            waiting.push(tokio::spawn(async move {
                cache.get_or_build(key(id), 1, 0, move || slow(format!("wg{id}"), 100, running, most)).await
            }));
        }
        for (id, task) in waiting.into_iter().enumerate() {
            assert_eq!(text(&task.await.unwrap().unwrap()), format!("wg{id}"));
        }
        assert_eq!(cache.builds(), 6);
        let most = most.load(Ordering::SeqCst);
        assert!((1..=2).contains(&most), "six keys at once, at most two builds at a time: {most}");
        assert_eq!(cache.kept().0, 3, "at most three documents kept");

        // Larger than the whole budget: served, not kept.
        let small = Arc::new(DocCache::new(Limits { builds: 1, docs: 8, bytes: 64 }));
        let big = small.get_or_build(key(1), 1, 0, || async { Ok(doc(&"x".repeat(200))) }).await.unwrap();
        assert!(big.len() > 64);
        assert_eq!(small.kept(), (0, 0));
    }

    #[test]
    fn documents_are_written_in_chunks_and_served_whole() {
        let long = "y".repeat(3 * CHUNK);
        let doc = doc(&long);
        assert_eq!(doc.chunks.len(), 4);
        assert!(doc.chunks[..3].iter().all(|c| c.len() == CHUNK));
        assert_eq!(doc.len(), doc.chunks.iter().map(Bytes::len).sum::<usize>());
        assert_eq!(text(&doc), long);
        let body = Arc::new(doc).body();
        assert_eq!(http_body::Body::size_hint(&body).exact(), Some(body.doc.len() as u64));
    }
}
