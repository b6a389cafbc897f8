//! The threads that carry proxied connections: one single-threaded runtime per core.
//!
//! A connection's two directions wake each other on every request. On the daemon's shared
//! work-stealing runtime those wakes hop between threads (a futex wake and a context switch each);
//! here a connection lives on one thread for its whole life and its wakes stay there, as nginx's
//! workers keep theirs. Connections are dealt out round-robin as they are accepted.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Builder, Handle};

/// More threads than this only add switching: each also serves the apps behind it.
const MAX_WORKERS: usize = 8;

struct Workers {
    handles: Vec<Handle>,
    next: AtomicUsize,
}

static WORKERS: OnceLock<Option<Workers>> = OnceLock::new();

/// Runs `task` on the next worker thread; on the caller's runtime where none could be started.
pub(super) fn spawn<F>(task: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    match WORKERS.get_or_init(start) {
        Some(workers) => {
            let i = workers.next.fetch_add(1, Ordering::Relaxed) % workers.handles.len();
            workers.handles[i].spawn(task);
        }
        None => {
            tokio::spawn(task);
        }
    }
}

fn start() -> Option<Workers> {
    let count = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, MAX_WORKERS);
    let mut handles = Vec::with_capacity(count);
    for i in 0..count {
        let runtime = Builder::new_current_thread().enable_all().build().ok()?;
        handles.push(runtime.handle().clone());
        std::thread::Builder::new()
            .name(format!("jube-proxy-{i}"))
            // Parked on a future that never ends: the runtime serves spawned connections forever.
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .ok()?;
    }
    Some(Workers {
        handles,
        next: AtomicUsize::new(0),
    })
}
