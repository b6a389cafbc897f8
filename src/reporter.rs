//! Progress reporting. The library reports through this trait; only the binary's `cli` draws
//! bars on a terminal, so library code never prints.

/// Receives progress of long work (downloads, unpacking). Ids tie the calls of one job together.
pub trait Reporter: Send + Sync {
    /// A job starts; `total` is its size in bytes (or entries) when known.
    fn on_start(&self, _what: &str, _total: Option<u64>) -> usize {
        0
    }
    /// `done` more units of job `id` are finished.
    fn on_progress(&self, _id: usize, _done: u64) {}
    /// Job `id` has ended, successfully or not.
    fn on_finish(&self, _id: usize) {}
    /// A warning the user should see (stderr in the binary).
    fn warn(&self, _message: &str) {}
    /// An informational line (stderr in the binary).
    fn info(&self, _message: &str) {}
}

/// Reports nothing: for piped output and for tests.
pub struct Silent;

impl Reporter for Silent {}
