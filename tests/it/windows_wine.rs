//! The Windows build, `jube.exe`, driven under wine (Debian's wine64 8.0) from Linux: real
//! `cmd.exe` running the images' `.bat` scripts, real Job Objects, a real loopback repository.
//!
//! The exe comes from `scripts/cross windows` (target/x86_64-pc-windows-gnu/debug/jube.exe, or
//! `JUBE_WINDOWS_EXE`). It is copied into a folder of this test run beside a test-only
//! `bcryptprimitives.dll`, built here with mingw: wine 8.0 lacks that DLL, whose `ProcessPrng` every
//! Rust program imports, so the shim exports it on top of `RtlGenRandom`. The shim never leaves
//! that folder, so it never ships. Under `CI=true` a missing wine, mingw or exe fails the tests.
//!
//! What wine 8.0 cannot do, and so what these tests do not ask of it:
//! - `tasklist.exe` is a stub that prints nothing, so the stock images' `status.bat` (which asks
//!   tasklist for the pid) reports "not running"; jube's own status comes from the process table
//!   (`NtQuerySystemInformation`), which wine has, and is what the tests check.
//! - There is no `timeout.exe` and no PowerShell; the stock images use neither any more.
//! - Console control events: on a console made with `AllocConsole` (there is no terminal here),
//!   `GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0)` reports success but no `SetConsoleCtrlHandler`
//!   routine of a process on that console runs, and `CTRL_BREAK_EVENT` fails with
//!   ERROR_INVALID_HANDLE. So that Ctrl-C and Ctrl-Break reach `jube run`'s app is not tested
//!   here; it needs a real Windows console (the Windows runner of `.github/workflows/ci.yml`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use jube::env_vars::EnvVars;

use super::common::fixtures::image_zip;
use super::common::{Cmd, RepoServer, TestEnv, ZipEntry, missing, wait_until};

/// wine starts slowly (a second or more per process), and jube.exe is a debug build.
const WINE_TIMEOUT: Duration = Duration::from_secs(120);

/// The wine installation and the exe, prepared once per test run.
struct Wine {
    wine: PathBuf,
    exe: PathBuf,
    prefix: PathBuf,
}

fn wine() -> Option<&'static Wine> {
    static WINE: OnceLock<Result<Wine, String>> = OnceLock::new();
    match WINE.get_or_init(prepare) {
        Ok(wine) => Some(wine),
        Err(what) => {
            if missing(false, what) {
                return None;
            }
            unreachable!()
        }
    }
}

fn find_wine() -> Option<PathBuf> {
    let fixed = PathBuf::from("/usr/lib/wine/wine64");
    if fixed.is_file() {
        return Some(fixed);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("wine64"))
        .find(|p| p.is_file())
}

fn find_exe() -> PathBuf {
    std::env::var_os("JUBE_WINDOWS_EXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/x86_64-pc-windows-gnu/debug/jube.exe")
        })
}

/// The exported `ProcessPrng` wine 8.0 lacks (bcryptprimitives.dll), for tests only.
const PRNG_SHIM: &str = r#"
#include <windows.h>
#define SystemFunction036 NTAPI SystemFunction036
#include <ntsecapi.h>
#undef SystemFunction036
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
"#;

fn prepare() -> Result<Wine, String> {
    let wine = find_wine().ok_or("wine64 (apt-get install wine64)")?;
    let built = find_exe();
    if !built.is_file() {
        return Err(format!("{} (scripts/cross windows builds it)", built.display()));
    }
    let gcc = "x86_64-w64-mingw32-gcc";
    if Command::new(gcc).arg("--version").output().is_err() {
        return Err(format!("{gcc} (apt-get install gcc-mingw-w64-x86-64)"));
    }
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    // Folders of earlier test runs (a wine prefix is ~800 MB) whose test process has ended.
    for entry in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ended = name
            .strip_prefix("wine-it-")
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
        if ended {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let dir = tmp.join(format!("wine-it-{}", std::process::id()));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
    let exe = bin.join("jube.exe");
    if std::fs::hard_link(&built, &exe).is_err() {
        std::fs::copy(&built, &exe).map_err(|e| format!("copy {}: {e}", built.display()))?;
    }
    let source = dir.join("prng.c");
    std::fs::write(&source, PRNG_SHIM).map_err(|e| e.to_string())?;
    let status = Command::new(gcc)
        .arg("-shared")
        .arg("-O2")
        .arg("-o")
        .arg(bin.join("bcryptprimitives.dll"))
        .arg(&source)
        .arg("-ladvapi32")
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("the ProcessPrng shim (mingw failed to build it)".to_owned());
    }
    let prefix = dir.join("prefix");
    // The wineserver is started here, with no pipe of any test as its stdio: started by the first
    // test's jube.exe, it would hold that test's pipes open for as long as it runs. It stays up
    // 10 minutes after the last wine process ends.
    let server = wine.with_file_name("wineserver");
    let server = if server.is_file() {
        server
    } else {
        PathBuf::from("wineserver")
    };
    let _ = Command::new(&server)
        .arg("-p600")
        .env("WINEPREFIX", &prefix)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let booted = Command::new(&wine)
        .args(["wineboot", "--init"])
        .env("WINEPREFIX", &prefix)
        .env("WINEDEBUG", "-all")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    if !booted.success() {
        return Err(format!(
            "a working wine prefix ({} failed to boot one)",
            wine.display()
        ));
    }
    Ok(Wine { wine, exe, prefix })
}

/// A Windows path for a Linux one: wine maps `/` to drive Z:.
fn win(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// A [`TestEnv`] whose jube is jube.exe under wine, with Windows paths for its folders.
struct WinEnv {
    env: TestEnv,
    wine: &'static Wine,
}

impl WinEnv {
    fn new() -> Option<Self> {
        Some(Self {
            env: TestEnv::new(),
            wine: wine()?,
        })
    }

    /// wine64 under `sh`, which keeps wine's stderr in a file until wine exits and only then
    /// copies it to its own. wine passes a wine process's Linux stderr (fd 2, where WINEDEBUG
    /// output goes) to every wine process it starts, whatever the Windows handles say (ntdll's
    /// `spawn_process` redirects only stdin and stdout), so an app jube.exe starts would hold a
    /// stderr pipe open under wine, and under wine alone. stdout is a pipe straight from wine64:
    /// its end is what shows that the app inherited none of jube.exe's handles.
    fn wine_cmd(&self) -> Cmd {
        self.env
            .command("sh")
            .args([
                "-c",
                r#"err=$(mktemp) || exit 125; "$@" 2>"$err"; rc=$?; cat "$err" >&2; rm -f "$err"; exit $rc"#,
                "wine-stderr",
            ])
            .arg(&self.wine.wine)
            .env("WINEPREFIX", &self.wine.prefix)
            .env("WINEDEBUG", "-all")
            // wine gives its processes the prefix's own profile folders.
            .env_remove("USERPROFILE")
            .timeout(WINE_TIMEOUT)
    }

    fn jube(&self) -> Cmd {
        self.wine_cmd()
            .arg(&self.wine.exe)
            .env(EnvVars::JUBE_HOME, win(self.env.home()))
            .env(EnvVars::JUBE_LOCAL_REPO, win(self.env.local_repo()))
            .env(
                EnvVars::JUBE_MAVEN_SETTINGS,
                win(&self.env.root().join("settings.xml")),
            )
    }

    fn repo(&mut self, server: &RepoServer) {
        self.env.set_env(EnvVars::JUBE_REMOTE_MAVEN_REPOS, server.url());
    }

    /// The folder of a container's app (its `root`-like folder holding the scripts).
    fn app_base(&self, id: &str) -> PathBuf {
        let dir = self.env.home().join("containers").join(id);
        std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "logs"))
            .unwrap_or_else(|| panic!("no app folder in {}", dir.display()))
    }
}

fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

/// An image whose app is a batch loop: it prints its environment (`set JV_`, cmd's literal view)
/// and a numbered line every second to the console log, starts a background child that appends
/// to `child.txt` every second (a process-tree member outside run.bat's own process), and
/// declares an HTTP port in ports.properties with CRLF line ends.
fn batch_image() -> Vec<u8> {
    let run = crlf(
        "@echo off\n\
         cd /d \"%~dp0\"\n\
         setlocal enabledelayedexpansion\n\
         call env.bat\n\
         echo delayed on:\n\
         set JV_\n\
         endlocal\n\
         setlocal disabledelayedexpansion\n\
         call env.bat\n\
         echo delayed off:\n\
         set JV_\n\
         start \"\" /b cmd /c child.bat\n\
         set n=0\n\
         :loop\n\
         set /a n+=1\n\
         echo line %n% port %HTTP_PORT%\n\
         ping -n 2 127.0.0.1 >nul\n\
         goto loop\n",
    );
    let child = crlf(
        "@echo off\n\
         cd /d \"%~dp0\"\n\
         :loop\n\
         echo alive>>child.txt\n\
         ping -n 2 127.0.0.1 >nul\n\
         goto loop\n",
    );
    image_zip(&[
        ZipEntry::file("run.bat", run),
        ZipEntry::file("child.bat", child),
        ZipEntry::file(
            "env.bat",
            crlf("@echo off\nif not defined JV_DEFAULT set \"JV_DEFAULT=image\"\n"),
        ),
        ZipEntry::file("ports.properties", "HTTP=8080\r\n"),
        ZipEntry::file("run.sh", "#!/bin/sh\nexit 1\n"),
    ])
}

fn logs(env: &WinEnv, id: &str) -> String {
    env.jube().args(["logs", id]).success().stdout
}

fn wait_for_log(env: &WinEnv, id: &str, needle: &str) {
    let mut last = String::new();
    let found = (0..60).any(|_| {
        last = logs(env, id);
        let ok = last.contains(needle);
        if !ok {
            std::thread::sleep(Duration::from_millis(500));
        }
        ok
    });
    assert!(found, "{needle:?} never appeared in the logs:\n{last}");
}

#[test]
fn a_batch_image_is_pulled_run_inspected_and_stopped_with_its_whole_tree() {
    let Some(mut env) = WinEnv::new() else { return };
    let server = RepoServer::start();
    server.publish_image("acme/batchy", "1.0", &batch_image());
    env.repo(&server);

    env.jube().args(["pull", "acme/batchy:1.0"]).success();
    let id = env
        .jube()
        .args(["create", "--name", "batchy"])
        .args(["-e", "JV_PCT=100%", "-e", "JV_CARET=a^b", "-e", "JV_AMP=x&y|z<w>"])
        .args(["-e", r#"JV_QUOTE=say "hi" & go"#, "-e", "JV_BANG=wow!ok!"])
        .arg("acme/batchy:1.0")
        .success()
        .last_line()
        .to_owned();
    assert_eq!(id.len(), 64, "{id}");

    // `start` exits while the app runs: its output pipe reaching EOF (the harness fails a command
    // whose pipes stay open) shows the app inherited none of jube.exe's handles.
    env.jube().args(["start", "batchy"]).success();
    wait_for_log(&env, "batchy", "line 2 port");
    let text = logs(&env, "batchy");
    for mode in ["delayed on:", "delayed off:"] {
        let section = text
            .split(mode)
            .nth(1)
            .unwrap_or_else(|| panic!("no {mode} in\n{text}"));
        for expected in [
            "JV_PCT=100%",
            "JV_CARET=a^b",
            "JV_AMP=x&y|z<w>",
            r#"JV_QUOTE=say "hi" & go"#,
            "JV_BANG=wow!ok!",
            "JV_DEFAULT=image",
        ] {
            assert!(section.contains(expected), "{mode} lacks {expected:?}:\n{text}");
        }
    }

    // Port lease from the CRLF ports.properties, inside this env's range.
    let port_line = env.jube().args(["port", "batchy"]).success().stdout;
    let (start, end) = env.env.port_range();
    let host: u16 = port_line
        .trim()
        .strip_prefix("HTTP 8080 -> ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{port_line:?}"));
    assert!((start..=end).contains(&host), "{host} not in {start}..={end}");
    assert!(text.contains(&format!("port {host}")), "{text}");

    let ps = env.jube().args(["ps", "--format", "json"]).success().stdout;
    assert!(ps.contains(&id) && ps.contains("\"running\""), "{ps}");
    let status = env.jube().args(["status", "batchy"]).code(0).stdout;
    assert!(status.contains("running"), "{status}");
    let exec = env
        .jube()
        .args([
            "exec",
            "batchy",
            "cmd",
            "/c",
            "echo",
            "exec-in-%JUBE_CONTAINER_ID%",
        ])
        .success()
        .stdout;
    assert!(exec.contains(&format!("exec-in-{id}")), "{exec}");

    // A running app holds its files open on Windows: rm must refuse, and say what to do.
    env.jube()
        .args(["rm", "batchy"])
        .failure()
        .stderr_contains("is running; stop it first");

    let child_log = env.app_base(&id).join("child.txt");
    wait_until("the background child writes", Duration::from_secs(30), || {
        child_log.is_file()
    });
    env.jube().args(["stop", "-t", "2", "batchy"]).success();
    env.jube().args(["status", "batchy"]).code(3);
    // The child lived outside run.bat's process; the Job Object ended it too.
    std::thread::sleep(Duration::from_secs(2));
    let after = std::fs::read_to_string(&child_log).unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        std::fs::read_to_string(&child_log).unwrap(),
        after,
        "the background child still runs after stop"
    );
    env.jube().args(["rm", "batchy"]).success();
    env.jube()
        .args(["ps", "-a", "-q"])
        .success()
        .stdout_lacks(&id[..12]);
}

#[test]
fn kill_ends_the_tree_and_a_restart_runs_again() {
    let Some(mut env) = WinEnv::new() else { return };
    let server = RepoServer::start();
    server.publish_image("acme/batchy", "1.0", &batch_image());
    env.repo(&server);
    let id = env
        .jube()
        .args(["start", "acme/batchy:1.0"])
        .success()
        .last_line()
        .to_owned();
    wait_for_log(&env, &id, "line 1 port");
    env.jube().args(["kill", &id]).success();
    env.jube().args(["status", &id]).code(3);
    let ps = env.jube().args(["ps", "-a", "--format", "json"]).success().stdout;
    assert!(ps.contains("137"), "a killed app exits 137, as on Unix: {ps}");
    env.jube().args(["start", &id]).success();
    env.jube().args(["status", &id]).code(0);
    env.jube().args(["rm", "-f", &id]).success();
}

#[test]
fn the_stock_ticker_runs_without_powershell() {
    let Some(env) = WinEnv::new() else { return };
    let id = env
        .jube()
        .args(["start", "-e", "TICK_MESSAGE=beat", "fabric8/ticker"])
        .success()
        .last_line()
        .to_owned();
    wait_for_log(&env, &id, "beat 2");
    env.jube().args(["status", &id]).code(0);
    env.jube().args(["stop", &id]).success();
    env.jube().args(["status", &id]).code(3);
    env.jube().args(["rm", &id]).success();
}

#[test]
fn the_stock_java_image_runs_its_bat_scripts_and_ends_without_java() {
    let Some(env) = WinEnv::new() else { return };
    // No Windows JDK exists in the prefix. On Windows run.bat's own check says "no Java runtime
    // found"; wine's where.exe is a stub that reports every program found, so under wine run.bat
    // goes on to start java and cmd says it cannot find it. Either way the app ends at once with a
    // failure, having got through env.bat and run.bat's own logic under cmd.
    let id = env
        .jube()
        .args(["start", "fabric8/java"])
        .success()
        .last_line()
        .to_owned();
    wait_for_log(&env, &id, "java");
    wait_until("the app has ended", WINE_TIMEOUT, || {
        env.jube().args(["status", &id]).output().code == Some(3)
    });
    let ps = env.jube().args(["ps", "-a"]).success().stdout;
    assert!(ps.contains("Exited"), "{ps}");
    env.jube().args(["rm", &id]).success();
}

#[test]
fn a_start_bat_that_writes_no_pid_is_named_as_start_bat() {
    let Some(mut env) = WinEnv::new() else { return };
    let server = RepoServer::start();
    let zip = image_zip(&[ZipEntry::file(
        "start.bat",
        "@echo off\r\necho started, no pid\r\n",
    )]);
    server.publish_image("acme/nopid", "1.0", &zip);
    env.repo(&server);
    let out = env
        .jube()
        .env(EnvVars::JUBE_PID_TIMEOUT, "2")
        .args(["start", "acme/nopid:1.0"])
        .failure();
    out.stderr_contains("start.bat of container")
        .stderr_contains("no pid file appeared")
        .stderr_lacks("start.sh");
}

#[test]
fn the_default_home_and_local_repository_are_windows_folders() {
    let Some(mut env) = WinEnv::new() else { return };
    let server = RepoServer::start();
    server.publish_image("acme/homes", "1.0", &batch_image());
    env.repo(&server);
    env.wine_cmd()
        .arg(&env.wine.exe)
        .env_remove(EnvVars::JUBE_HOME)
        .env_remove(EnvVars::JUBE_LOCAL_REPO)
        .env(
            EnvVars::JUBE_MAVEN_SETTINGS,
            win(&env.env.root().join("settings.xml")),
        )
        .env_remove("HOME")
        .args(["pull", "acme/homes:1.0"])
        .success();
    let users = env.wine.prefix.join("drive_c/users");
    let user = std::fs::read_dir(&users)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join(".m2").is_dir())
        .unwrap_or_else(|| panic!("no %USERPROFILE%\\.m2 under {}", users.display()));
    let zip = user.join(".m2/repository/io/fabric8/jube/images/acme/homes/1.0/homes-1.0-image.zip");
    assert!(zip.is_file(), "{} missing", zip.display());
    assert!(
        user.join("AppData/Local/jube").is_dir(),
        "%LOCALAPPDATA%\\jube missing"
    );
}

#[test]
fn long_and_non_ascii_paths_with_spaces_work() {
    let Some(mut env) = WinEnv::new() else { return };
    let server = RepoServer::start();
    server.publish_image("acme/batchy", "1.0", &batch_image());
    env.repo(&server);
    // A home with spaces and non-ASCII characters, deep enough that a 64-character container id
    // and the app folder take the scripts' paths close to MAX_PATH.
    let deep = env
        .env
        .root()
        .join("Ünïcode home with spaces")
        .join("x".repeat(40))
        .join("y".repeat(40));
    std::fs::create_dir_all(&deep).unwrap();
    let id = env
        .jube()
        .env(EnvVars::JUBE_HOME, win(&deep))
        .args(["start", "--name", "spaced", "acme/batchy:1.0"])
        .success()
        .last_line()
        .to_owned();
    let out = (0..60)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(500));
            env.jube()
                .env(EnvVars::JUBE_HOME, win(&deep))
                .args(["logs", &id])
                .success()
                .stdout
        })
        .find(|text| text.contains("line 1"));
    assert!(out.is_some(), "the app never logged under {}", deep.display());
    env.jube()
        .env(EnvVars::JUBE_HOME, win(&deep))
        .args(["rm", "-f", &id])
        .success();
}

/// A pod whose app is a real HTTP server under wine: jube.exe's own API (`daemon --listen`), in a
/// home of its own inside the app folder.
fn server_image() -> Vec<u8> {
    let run = crlf(
        "@echo off\n\
         cd /d \"%~dp0\"\n\
         set \"JUBE_HOME=%~dp0inner\"\n\
         \"%SERVER_EXE%\" daemon --listen 127.0.0.1:%HTTP_PORT%\n",
    );
    image_zip(&[
        ZipEntry::file("run.bat", run),
        ZipEntry::file("ports.properties", "HTTP=8080\r\n"),
    ])
}

#[test]
fn the_daemon_runs_an_rc_whose_service_answers_through_the_proxy() {
    let Some(mut env) = WinEnv::new() else { return };
    let server = RepoServer::start();
    server.publish_image("acme/api", "1.0", &server_image());
    env.repo(&server);
    env.env.set_env("JUBE_DAEMON_LISTEN", "127.0.0.1:0");
    env.env.set_env("JUBE_BACKOFF_BASE", "0.2");
    // The Service's names go into a hosts file in Windows' own format (CRLF), kept in step.
    let hosts = env.env.root().join("hosts");
    let original = "127.0.0.1 localhost\r\n::1 localhost\r\n";
    std::fs::write(&hosts, original).unwrap();
    env.env.set_env("JUBE_HOSTS_FILE", win(&hosts));
    let manifest = format!(
        "apiVersion: v1
kind: ReplicationController
metadata:
  name: api
spec:
  replicas: 1
  selector:
    app: api
  template:
    metadata:
      labels:
        app: api
    spec:
      containers:
      - name: api
        image: acme/api:1.0
        env:
        - name: SERVER_EXE
          value: '{}'
        ports:
        - name: http
          containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector:
    app: api
  ports:
  - port: 80
    targetPort: 8080
",
        win(&env.wine.exe)
    );
    let file = env.env.root().join("api.yaml");
    std::fs::write(&file, manifest).unwrap();
    env.jube().arg("apply").arg("-f").arg(win(&file)).success();
    let stop = |env: &WinEnv| {
        env.jube()
            .args(["daemon", "stop", "--stop-pods"])
            .timeout(WINE_TIMEOUT)
            .output();
    };
    let mut answer = String::new();
    let mut address = String::new();
    let answered = (0..90).any(|_| {
        std::thread::sleep(Duration::from_secs(1));
        let svc = env
            .jube()
            .args(["get", "svc", "api", "-o", "json"])
            .output()
            .stdout;
        let Ok(svc) = serde_json::from_str::<serde_json::Value>(&svc) else {
            return false;
        };
        // The Service's own address (or the daemon's, where the system does not answer there).
        let ingress = &svc["status"]["loadBalancer"]["ingress"][0];
        let (Some(ip), Some(port)) = (ingress["ip"].as_str(), ingress["ports"][0]["port"].as_u64()) else {
            return false;
        };
        address = ip.to_owned();
        match reqwest::blocking::get(format!("http://{ip}:{port}/version")).and_then(|r| r.text()) {
            Ok(text) => {
                answer = text;
                answer.contains("\"major\"")
            }
            Err(_) => false,
        }
    });
    if !answered {
        let pods = env.jube().args(["get", "pods", "-o", "wide"]).output();
        stop(&env);
        panic!("the service never answered through the proxy ({answer})\n{pods}");
    }
    let named = format!("{address}\tapi.default.svc.cluster.local api.default.svc api.default api\r\n");
    let named_in_time = (0..60).any(|_| {
        let text = std::fs::read_to_string(&hosts).unwrap_or_default();
        text.contains(&named) || {
            std::thread::sleep(Duration::from_millis(500));
            false
        }
    });
    let block = std::fs::read_to_string(&hosts).unwrap_or_default();
    stop(&env);
    assert!(
        named_in_time,
        "the hosts file never named the Service at {address}: {block:?}"
    );
    assert!(
        block.starts_with(original) && !block.replace("\r\n", "").contains('\n'),
        "{block:?}"
    );
    // The daemon takes its block away when it stops.
    assert_eq!(std::fs::read_to_string(&hosts).unwrap(), original);
}

#[test]
fn a_caller_reading_jubes_output_through_a_pipe_sees_its_end() {
    let Some(mut env) = WinEnv::new() else { return };
    let server = RepoServer::start();
    server.publish_image("acme/batchy", "1.0", &batch_image());
    env.repo(&server);
    // stdout straight from wine64 to this test: only Windows handles decide who holds it.
    let mut command = Command::new(&env.wine.wine);
    env.env.apply_env(&mut command);
    command
        .arg(&env.wine.exe)
        .args(["start", "--name", "piped", "acme/batchy:1.0"])
        .env("WINEPREFIX", &env.wine.prefix)
        .env("WINEDEBUG", "-all")
        .env_remove("USERPROFILE")
        .env(EnvVars::JUBE_HOME, win(env.env.home()))
        .env(EnvVars::JUBE_LOCAL_REPO, win(env.env.local_repo()))
        .env(
            EnvVars::JUBE_MAVEN_SETTINGS,
            win(&env.env.root().join("settings.xml")),
        )
        .env(EnvVars::JUBE_REMOTE_MAVEN_REPOS, server.url())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(env.env.root().join("stderr.txt")).unwrap());
    let mut child = command.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        let _ = tx.send(text);
    });
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(env.env.root().join("stderr.txt")).unwrap()
    );
    let text = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("jube.exe exited but its stdout stayed open: the app inherited it");
    assert_eq!(text.trim().len(), 64, "{text}");
    env.jube().args(["rm", "-f", "piped"]).success();
}
