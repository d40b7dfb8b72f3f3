//! The interpreter threads: a fixed set of dedicated OS threads behind a
//! bounded queue.
//!
//! An interpreter runs Python to completion without yielding, so it must never
//! sit on a tokio worker. Calls queue here instead; a full queue is refused
//! (`Busy`) rather than buffered without end. A call whose interpreter has not
//! stopped by itself a second after its limit is abandoned by the caller: its
//! thread is written off (it retires when, if ever, it finishes) and a new one
//! takes its place, up to a cap so that a flood of runaway calls cannot turn
//! into a flood of threads.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;

use crate::FunctionError;

/// Native stack of an interpreter thread: room for monty's recursive paths
/// (repr, comparisons, conversion of nested values) at the recursion limit.
const STACK_BYTES: usize = 64 * 1024 * 1024;

/// Calls waiting per interpreter thread before the pool says `Busy`.
const QUEUE_PER_THREAD: usize = 32;

type Task = Box<dyn FnOnce() + Send + 'static>;

struct Job {
    task: Task,
    state: Arc<AtomicU8>,
}

const RUNNING: u8 = 0;
const DONE: u8 = 1;
/// Abandoned and replaced: the thread exits when the call ends.
const ABANDONED: u8 = 2;
/// Abandoned but not replaced (too many stuck): the thread carries on.
const ABANDONED_KEPT: u8 = 3;

/// A queued call, to abandon it if it overruns.
pub(crate) struct Ticket(Arc<AtomicU8>);

pub(crate) struct Pool {
    queue: SyncSender<Job>,
    shared: Arc<Shared>,
}

struct Shared {
    jobs: Mutex<Receiver<Job>>,
    /// Threads running an abandoned call; they exit when it ends.
    abandoned: AtomicUsize,
    size: usize,
}

impl Pool {
    /// The process's pool, started on first use with one thread per core.
    pub(crate) fn global() -> Result<&'static Pool, FunctionError> {
        static POOL: OnceLock<Result<Pool, String>> = OnceLock::new();
        POOL.get_or_init(|| {
            let size = thread::available_parallelism().map_or(2, |n| n.get());
            Pool::start(size)
        })
        .as_ref()
        .map_err(|e| FunctionError::Internal(e.clone()))
    }

    fn start(size: usize) -> Result<Pool, String> {
        let (queue, jobs) = sync_channel(size * QUEUE_PER_THREAD);
        let shared = Arc::new(Shared { jobs: Mutex::new(jobs), abandoned: AtomicUsize::new(0), size });
        for _ in 0..size {
            spawn_worker(&shared).map_err(|e| format!("starting interpreter threads: {e}"))?;
        }
        Ok(Pool { queue, shared })
    }

    /// Queues `job`; `Busy` when the queue is full.
    pub(crate) fn submit(&self, task: Task) -> Result<Ticket, FunctionError> {
        let state = Arc::new(AtomicU8::new(RUNNING));
        let job = Job { task, state: Arc::clone(&state) };
        self.queue.try_send(job).map(|()| Ticket(state)).map_err(|e| match e {
            TrySendError::Full(_) => FunctionError::Busy,
            TrySendError::Disconnected(_) => FunctionError::Internal("interpreter threads are gone".to_owned()),
        })
    }

    /// Writes off the thread of an abandoned call and starts a replacement,
    /// unless as many calls as there are threads are already abandoned.
    pub(crate) fn abandon(&self, ticket: &Ticket) {
        let shared = &self.shared;
        let replace = shared.abandoned.fetch_add(1, Ordering::SeqCst) < shared.size;
        let state = if replace { ABANDONED } else { ABANDONED_KEPT };
        let swapped = ticket.0.compare_exchange(RUNNING, state, Ordering::SeqCst, Ordering::SeqCst);
        if swapped.is_err() {
            // It finished after all; its thread carries on.
            shared.abandoned.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        // Without the replacement the pool is one short until the stuck
        // thread finishes; calls still run, so a failed spawn is not fatal.
        if replace && spawn_worker(shared).is_err() {
            ticket.0.store(ABANDONED_KEPT, Ordering::SeqCst);
        }
    }
}

fn spawn_worker(shared: &Arc<Shared>) -> std::io::Result<()> {
    let shared = Arc::clone(shared);
    thread::Builder::new()
        .name("sluice-python".to_owned())
        .stack_size(STACK_BYTES)
        .spawn(move || worker(&shared))
        .map(drop)
}

fn worker(shared: &Shared) {
    loop {
        let job = {
            let jobs = shared.jobs.lock().unwrap_or_else(|e| e.into_inner());
            match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        // A panic inside the interpreter is its bug, not the pool's: the job
        // reports it through its dropped channel and the thread carries on.
        let _ = catch_unwind(AssertUnwindSafe(job.task));
        if job.state.compare_exchange(RUNNING, DONE, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            shared.abandoned.fetch_sub(1, Ordering::SeqCst);
            if job.state.load(Ordering::SeqCst) == ABANDONED {
                return;
            }
        }
    }
}
