//! The command line: clap definitions and the wiring from arguments to the library.

use std::ffi::OsString;

/// Runs jube with the given arguments and returns the process exit code.
pub fn run(_args: impl IntoIterator<Item = OsString>) -> i32 {
    0
}
