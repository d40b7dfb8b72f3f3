//! Per-thread memory metering for the interpreter.
//!
//! monty checks its memory limit against a counter kept by a global allocator.
//! The published counter is process-wide, which is wrong for a gateway: every
//! interpreter thread and all of the server would share one budget. The binary
//! instead installs [`MeteredAlloc`], which counts the bytes each thread holds
//! while a function runs on it; the patched `monty-types` (vendor/README.md)
//! asks [`thread_bytes`] at its checkpoints and raises an uncatchable
//! `MemoryError` past the limit. The allocator itself never refuses: a null
//! return would abort the whole process.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::hint::black_box;
use std::time::Duration;

use cpu_time::ThreadTime;

/// A global allocator that wraps `A` and meters the allocating thread while a
/// sandboxed call runs on it (see the module docs).
pub struct MeteredAlloc<A> {
    inner: A,
}

impl<A> MeteredAlloc<A> {
    /// Wraps `inner`; usable in a `static` for `#[global_allocator]`.
    pub const fn new(inner: A) -> Self {
        Self { inner }
    }
}

/// The calling thread's meter. Const-initialised and without `Drop`, so
/// touching it from inside the allocator never allocates or registers a
/// destructor.
struct Meter {
    armed: Cell<bool>,
    /// Bytes allocated minus bytes freed since arming; may go below zero when
    /// the call frees memory allocated before it began.
    live: Cell<isize>,
}

thread_local! {
    static METER: Meter = const {
        Meter { armed: Cell::new(false), live: Cell::new(0) }
    };
}

#[inline]
fn record(delta: isize) {
    // `try_with` rather than `with`: the allocator can run while the thread is
    // being torn down, and metering must then quietly do nothing.
    let _ = METER.try_with(|m| {
        if m.armed.get() {
            m.live.set(m.live.get().saturating_add(delta));
        }
    });
}

fn signed(size: usize) -> isize {
    isize::try_from(size).unwrap_or(isize::MAX)
}

// SAFETY: every method forwards to `inner` with the caller's arguments
// unchanged, so `inner`'s guarantees carry over; the metering around the calls
// only touches a const thread-local of `Cell`s, which neither allocates nor
// unwinds.
unsafe impl<A: GlobalAlloc> GlobalAlloc for MeteredAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let ptr = unsafe { self.inner.alloc(layout) };
        if !ptr.is_null() {
            record(signed(layout.size()));
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        let ptr = unsafe { self.inner.alloc_zeroed(layout) };
        if !ptr.is_null() {
            record(signed(layout.size()));
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s contract.
        unsafe { self.inner.dealloc(ptr, layout) };
        record(-signed(layout.size()));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        let new = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            record(signed(new_size).saturating_sub(signed(layout.size())));
        }
        new
    }
}

/// Arms the calling thread's meter from zero; disarms when dropped.
pub(crate) struct Metering(());

impl Metering {
    pub(crate) fn arm() -> Self {
        let _ = METER.try_with(|m| {
            m.live.set(0);
            m.armed.set(true);
        });
        Self(())
    }
}

impl Drop for Metering {
    fn drop(&mut self) {
        let _ = METER.try_with(|m| m.armed.set(false));
    }
}

/// Bytes the calling thread holds since its meter was armed, or `None` when
/// it is not metered (then monty falls back to its own process counter).
pub(crate) fn thread_bytes() -> Option<usize> {
    METER.try_with(|m| m.armed.get().then(|| usize::try_from(m.live.get()).unwrap_or(0))).ok().flatten()
}

/// Whether a sandboxed call is running on the calling thread.
fn armed() -> bool {
    METER.try_with(|m| m.armed.get()).unwrap_or(false)
}

/// CPU time of the calling thread while a call runs on it: the clock monty
/// measures the time budget on (the issue sets a CPU limit; wall time would
/// also charge the waits for a core on a busy host).
pub(crate) fn thread_cpu() -> Option<Duration> {
    if !armed() {
        return None;
    }
    ThreadTime::try_now().ok().map(|t| t.as_duration())
}

/// Installs [`thread_bytes`] and [`thread_cpu`] as monty's probes, and [`admits_step`] as
/// its check before a large result (idempotent).
pub(crate) fn install_probes() {
    let _ = monty_types::set_memory_probe(thread_bytes);
    let _ = monty_types::set_clock_probe(thread_cpu);
    let _ = monty_types::set_large_result_check(admits_step);
}

/// Whether one step whose result is about `bytes` can end within the CPU time `left` plus
/// [`STEP_SLACK`]: monty cannot stop a step once it runs, and a big-integer multiplication
/// (the costliest step of a given size) grows about as size^1.5. Measured on the project's
/// 2-core machine under load: squaring into a 406 KB result took 40–69 ms of CPU, into
/// 812 KB 111 ms, into 1.6 MB 450 ms. Costed at 60 ms for 406 KB, a call about to run out may
/// still make 310 KB in one step and a fresh 200 ms budget about 1 MB; a step that cannot fit
/// ends the call as out of time before it runs.
fn admits_step(bytes: usize, left: Duration) -> bool {
    const REFERENCE_BYTES: f64 = 406_000.0;
    const REFERENCE_SECS: f64 = 0.060;
    let cost = REFERENCE_SECS * (bytes as f64 / REFERENCE_BYTES).powf(1.5);
    cost <= (left + STEP_SLACK).as_secs_f64()
}

/// How far past its budget one step may end: within the 50 ms the limits promise.
const STEP_SLACK: Duration = Duration::from_millis(40);

/// Whether the process's global allocator is a [`MeteredAlloc`]: without it a
/// function's memory limit is not enforced.
pub fn metering_installed() -> bool {
    let _guard = Metering::arm();
    let probe = black_box(vec![0_u8; 4096]);
    let seen = thread_bytes().unwrap_or(0);
    drop(probe);
    seen >= 4096
}
