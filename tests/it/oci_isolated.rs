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
echo "probe up as pid $$"
exec busybox httpd -f -p "$HTTP_PORT" -h www
"#;

fn build_probe(env: &TestEnv) {
    let dir = env.root().join("probe");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("run.sh"), PROBE_RUN_SH).unwrap();
    crate::build_helpers::set_mode(&dir.join("run.sh"), 0o755);
    std::fs::write(dir.join("ports.properties"), "HTTP=8080\n").unwrap();
    env.jube()
        .arg("build")
        .arg(&dir)
        .args(["-t", "team/probe:1.0"])
        .success();
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
    let probe_dir = tempfile::Builder::new()
        .prefix("jube-isolated-")
        .tempdir_in("/var/tmp")
        .unwrap();
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
    let app_base = crate::build_helpers::app_base(&env, &id);
    assert_eq!(
        std::fs::read_to_string(app_base.join("inside.txt")).unwrap(),
        "in\n"
    );
    // The pid jube shows is the app's own on the host's side (pid 1 inside), not runc's.
    let pid = state["process"]["pid"].as_u64().unwrap();
    assert_eq!(ns_pids(pid), [pid, 1]);
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "busybox");

    env.jube().args(["status", "iso"]).success();
    let logs = env.jube().args(["logs", "iso"]).success().stdout;
    assert!(logs.contains("probe up as pid 1"), "{logs}");
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

#[test]
fn a_pod_annotated_isolated_runs_under_the_runtime_and_is_restarted_as_any_pod() {
    if !runc_ready() {
        return;
    }
    let env = TestEnv::new();
    build_probe(&env);
    let probe_dir = tempfile::Builder::new()
        .prefix("jube-isolated-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let probe = probe_dir.path().join("outside.txt");
    let api = crate::api_support::Api::start_in(env);
    api.create(
        "/api/v1/namespaces/default/pods",
        &serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "iso", "annotations": {"jube.io/isolated": "true"}},
            "spec": {"containers": [{
                "name": "probe", "image": "team/probe:1.0",
                "env": [{"name": "PROBE", "value": probe.display().to_string()}],
            }]},
        }),
    );
    let mut id = String::new();
    crate::common::wait_until("the pod's container", std::time::Duration::from_secs(60), || {
        id = api
            .env
            .jube()
            .args(["ps", "-q"])
            .success()
            .stdout
            .trim()
            .to_owned();
        !id.is_empty()
    });
    let port = crate::build_helpers::host_port(&api.env, &id, "HTTP");
    assert_eq!(answer(port), "pid 1 inside written outside refused etc refused");
    assert!(!probe.exists());
    let state = inspect(&api.env, &id);
    assert_eq!(state["isolated"], true);
    let pid = state["process"]["pid"].as_u64().unwrap();
    assert_eq!(ns_pids(pid), [pid, 1]);

    // The app dies; the daemon starts it again, isolated again.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    crate::common::wait_until("a restart", std::time::Duration::from_secs(60), || {
        let pod = api.get("/api/v1/namespaces/default/pods/iso");
        pod.body["status"]["containerStatuses"][0]["restartCount"]
            .as_u64()
            .unwrap_or(0)
            >= 1
            && pod.body["status"]["containerStatuses"][0]["ready"] == true
    });
    assert_eq!(answer(port), "pid 1 inside written outside refused etc refused");
    let again = inspect(&api.env, &id)["process"]["pid"].as_u64().unwrap();
    assert_ne!(again, pid);
    assert_eq!(ns_pids(again), [again, 1]);
    api.delete("/api/v1/namespaces/default/pods/iso");
    crate::common::wait_until(
        "the container removed",
        std::time::Duration::from_secs(60),
        || {
            api.env
                .jube()
                .args(["ps", "-a", "-q"])
                .success()
                .stdout
                .trim()
                .is_empty()
        },
    );
}
