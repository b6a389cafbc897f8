//! `jube start --isolated`: the app under runc, in namespaces of its own, with the host read-only
//! but for its folder; jube manages it as any container.

use std::path::PathBuf;

use crate::build_helpers::inspect;
use crate::common::TestEnv;
use crate::oci_support::{answer, http_get, runc_ready};

/// `run.sh` of the probe image: tries to write inside its folder and outside it (a folder of the
/// host's own, given as PROBE), then serves what it found with busybox httpd.
const PROBE_RUN_SH: &str = r#"#!/bin/sh
cd "$(dirname "$0")"
. ./env.sh
mkdir -p www
if echo in > "$APP_BASE/inside.txt"; then inside=written; else inside=refused; fi
if echo out > "$PROBE" 2>/dev/null; then outside=written; else outside=refused; fi
if echo etc > /etc/jube-isolated-probe 2>/dev/null; then etc=written; else etc=refused; fi
echo "pid $$ inside $inside outside $outside etc $etc" > www/index.html
exec busybox httpd -f -p "$HTTP_PORT" -h www
"#;

fn build_probe(env: &TestEnv) {
    let dir = env.root().join("probe");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("run.sh"), PROBE_RUN_SH).unwrap();
    crate::build_helpers::set_mode(&dir.join("run.sh"), 0o755);
    std::fs::write(dir.join("ports.properties"), "HTTP=8080\n").unwrap();
    env.jube().arg("build").arg(&dir).args(["-t", "team/probe:1.0"]).success();
}

/// The `NSpid` line of a process: its pid in each pid namespace, the host's first.
fn ns_pids(pid: u64) -> Vec<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

#[test]
fn an_isolated_app_sees_itself_as_pid_1_cannot_write_outside_its_folder_and_is_managed_as_usual() {
    if !runc_ready() {
        return;
    }
    let mut env = TestEnv::new();
    // A folder of the host's root file system (not /tmp, which the app gets privately).
    let probe_dir = tempfile::Builder::new().prefix("jube-isolated-").tempdir_in("/var/tmp").unwrap();
    let probe: PathBuf = probe_dir.path().join("outside.txt");
    env.set_env("PROBE", &probe);
    build_probe(&env);
    let id = env
        .jube()
        .args(["start", "--isolated", "--name", "iso", "team/probe:1.0", "-e"])
        .arg(format!("PROBE={}", probe.display()))
        .success()
        .last_line()
        .to_owned();
    let port_line = env.jube().args(["port", "iso", "HTTP"]).success().stdout;
    let port: u16 = port_line.trim().rsplit(' ').next().unwrap().parse().unwrap();
    let body = answer(port);
    assert_eq!(body, "pid 1 inside written outside refused etc refused");
    assert!(!probe.exists(), "nothing was written outside the app's folder");
    assert!(!std::path::Path::new("/etc/jube-isolated-probe").exists());
    let state = inspect(&env, &id);
    assert_eq!(state["isolated"], true);
    let app_base = PathBuf::from(state["app_base"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(app_base.join("inside.txt")).unwrap(), "in\n");
    // The pid jube shows is the app's own on the host's side (pid 1 inside), not runc's.
    let pid = state["process"]["pid"].as_u64().unwrap();
    assert_eq!(ns_pids(pid), [pid, 1]);
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "busybox");

    env.jube().args(["status", "iso"]).success();
    let ps = env.jube().args(["ps"]).success().stdout;
    assert!(ps.contains("iso") && ps.contains(&format!("HTTP:{port}")), "{ps}");
    let env_sh = std::fs::read_to_string(app_base.join("env.sh")).unwrap();
    assert!(env_sh.contains(&format!("export HTTP_PORT='{port}'")), "{env_sh}");

    env.jube().args(["stop", "-t", "1", "iso"]).success();
    env.jube().args(["status", "iso"]).code(3);
    assert_eq!(http_get(port), None);
    // Started again, on the same port, still isolated.
    env.jube().args(["start", "iso"]).success();
    assert_eq!(answer(port), "pid 1 inside written outside refused etc refused");
    env.jube().args(["kill", "iso"]).success();
    env.jube().args(["status", "iso"]).code(3);
    env.jube().args(["rm", "iso"]).success();
}

#[test]
fn isolation_without_a_runtime_is_a_clear_error_and_creates_nothing() {
    let env = TestEnv::new();
    build_probe(&env);
    let empty = env.root().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    env.jube()
        .args(["start", "--isolated", "team/probe:1.0"])
        .env("PATH", &empty)
        .failure()
        .stderr_contains("neither runc nor crun is on the PATH");
    assert_eq!(env.jube().args(["ps", "-a", "-q"]).success().stdout, "");
}
