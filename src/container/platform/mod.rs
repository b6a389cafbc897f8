//! What differs between Unix and Windows: script names and shells, detaching a process, signalling
//! a whole process tree, execute bits and exit codes. This is the only module that uses `cfg`;
//! everything else calls these functions and is the same code on every platform.
//!
//! Text builders that only Windows uses live here, outside `windows.rs`, so that Linux tests cover
//! them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::container::process::ProcessError;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

/// The hidden first argument that makes jube.exe a container's supervisor (see `windows.rs`).
pub const SUPERVISE_ARG: &str = "__jube-supervise";

/// When jube was started as a container's supervisor (Windows only), runs the app and returns the
/// exit code jube should exit with; `None` for every ordinary command line.
pub fn supervisor_entry(args: &[OsString]) -> Option<i32> {
    if args.get(1).is_none_or(|a| a != SUPERVISE_ARG) {
        return None;
    }
    #[cfg(windows)]
    {
        Some(windows::supervise(&args[2..]))
    }
    #[cfg(not(windows))]
    {
        eprintln!("jube: {SUPERVISE_ARG} is only used on Windows");
        Some(2)
    }
}

/// A request to stop: `Term` asks politely, `Kill` cannot be refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Term,
    Kill,
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signal::Term => "SIGTERM",
            Signal::Kill => "SIGKILL",
        })
    }
}

/// The file name of an image script: `start` becomes `start.sh` (Unix) or `start.bat` (Windows).
pub fn script_name(base: &str) -> String {
    format!("{base}.{SCRIPT_EXT}")
}

/// Signals the process tree that `pid` belongs to (see [`Group`]). A pid that no longer exists is
/// not an error: the work is already done.
pub fn signal_group(pid: u32, sig: Signal) -> Result<(), ProcessError> {
    match Group::of(pid) {
        Some(group) => group.signal(sig),
        None => Ok(()),
    }
}

/// The first `name` found in the directories of a `PATH`-style list.
#[cfg_attr(windows, allow(dead_code))]
pub(crate) fn find_in_path(name: &str, path_list: Option<OsString>) -> Option<PathBuf> {
    let list = path_list?;
    std::env::split_paths(&list)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `cmd` arguments that run a batch file and end when it ends.
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) fn cmd_args(script: &Path) -> Vec<OsString> {
    vec![OsString::from("/C"), script.as_os_str().to_owned()]
}

/// `taskkill` arguments for the tree rooted at `pid`. Without `/F`, taskkill asks the windows of
/// the tree to close, the nearest Windows has to SIGTERM.
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) fn taskkill_args(pid: u32, sig: Signal) -> Vec<String> {
    let mut args = vec!["/T".to_owned()];
    if sig == Signal::Kill {
        args.push("/F".to_owned());
    }
    args.extend(["/PID".to_owned(), pid.to_string()]);
    args
}

/// taskkill exits with 128 when the process is already gone, which, like ESRCH, means done.
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) fn taskkill_succeeded(code: Option<i32>) -> bool {
    matches!(code, Some(0) | Some(128))
}

/// `CREATE_NEW_PROCESS_GROUP | DETACHED_PROCESS`: the app gets no console of its own and does not
/// receive the Ctrl-C meant for jube.
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) const WINDOWS_DETACH_FLAGS: u32 = 0x0000_0200 | 0x0000_0008;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_name_adds_the_platform_extension() {
        assert_eq!(script_name("start"), format!("start.{SCRIPT_EXT}"));
        assert!(ENV_FILE.starts_with("env."));
        assert!(ENV_FILE.ends_with(SCRIPT_EXT));
    }

    #[test]
    fn signals_print_as_their_unix_names() {
        assert_eq!(Signal::Term.to_string(), "SIGTERM");
        assert_eq!(Signal::Kill.to_string(), "SIGKILL");
    }

    #[test]
    fn find_in_path_takes_the_first_directory_holding_the_file() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        std::fs::write(second.path().join("tool"), "").unwrap();
        std::fs::create_dir(first.path().join("tool-dir")).unwrap();
        let list = std::env::join_paths([first.path(), second.path()]).unwrap();
        assert_eq!(
            find_in_path("tool", Some(list.clone())),
            Some(second.path().join("tool"))
        );
        assert_eq!(
            find_in_path("tool-dir", Some(list.clone())),
            None,
            "a directory is no program"
        );
        assert_eq!(find_in_path("missing", Some(list)), None);
        assert_eq!(find_in_path("tool", None), None);
    }

    #[test]
    fn cmd_runs_the_script_and_ends() {
        let args = cmd_args(Path::new(r"C:\apps\my app\start.bat"));
        assert_eq!(
            args,
            [OsString::from("/C"), OsString::from(r"C:\apps\my app\start.bat")]
        );
    }

    #[test]
    fn taskkill_forces_only_for_kill_and_always_takes_the_tree() {
        assert_eq!(taskkill_args(4242, Signal::Term), ["/T", "/PID", "4242"]);
        assert_eq!(taskkill_args(4242, Signal::Kill), ["/T", "/F", "/PID", "4242"]);
    }

    #[test]
    fn taskkill_not_found_counts_as_done() {
        assert!(taskkill_succeeded(Some(0)));
        assert!(taskkill_succeeded(Some(128)));
        assert!(!taskkill_succeeded(Some(1)));
        assert!(!taskkill_succeeded(None));
    }

    #[test]
    fn windows_detach_flags_are_new_group_and_detached() {
        assert_eq!(WINDOWS_DETACH_FLAGS, 0x208);
    }
}
