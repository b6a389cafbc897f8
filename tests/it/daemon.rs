//! The daemon as a supervisor: one per JUBE_HOME, stopping it leaves pods running for the next
//! one to adopt, a SIGKILL loses nothing and starts nothing twice, and the containers it owns are
//! its to remove.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use serde_json::Value;

use crate::common::wait_until;
use crate::kubectl_like::{Kube, PATIENCE, pod};

/// Pod containers by name, with their pid (`None` when not running).
fn pod_containers(k: &Kube) -> BTreeMap<String, (String, Option<u64>)> {
    let out = k.jube().args(["ps", "-a", "--format", "json"]).success();
    let list: Value = serde_json::from_str(&out.stdout).expect("ps JSON");
    list.as_array()
        .expect("an array")
        .iter()
        .filter(|c| c["name"].as_str().is_some_and(|n| n.starts_with("k8s_")))
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                (c["id"].as_str().unwrap().to_owned(), c["pid"].as_u64()),
            )
        })
        .collect()
}

fn running_count(k: &Kube) -> usize {
    pod_containers(k)
        .values()
        .filter(|(_, pid)| pid.is_some())
        .count()
}

const TICKERS: &str = "apiVersion: v1
kind: ReplicationController
metadata:
  name: tick
spec:
  replicas: 3
  selector:
    app: tick
  template:
    metadata:
      labels:
        app: tick
    spec:
      containers:
      - name: tick
        image: fabric8/ticker
        env:
        - name: TICK_INTERVAL
          value: \"0.2\"
";

#[test]
fn one_daemon_per_home_and_its_address_file() {
    let k = Kube::new();
    let daemon = k.jube().arg("daemon").spawn();
    wait_until("daemon.addr written", PATIENCE, || k.daemon_addr().exists());
    let second = k.jube().arg("daemon").failure();
    second
        .stderr_contains("a jube daemon already runs for")
        .stderr_contains("jube daemon stop");
    let addr = std::fs::read_to_string(k.daemon_addr()).unwrap();
    let version: Value = reqwest::blocking::get(format!("http://{}/version", addr.trim()))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(version["major"], "1");
    k.jube().args(["daemon", "stop"]).success();
    let out = daemon.wait();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(!k.daemon_addr().exists(), "a stopped daemon removes daemon.addr");
    let log = std::fs::read_to_string(k.env.home().join("daemon.log")).unwrap();
    assert!(
        log.contains("listening on") && log.contains("daemon stopped"),
        "{log}"
    );
}

#[test]
fn stopping_the_daemon_leaves_pods_running_and_the_next_one_adopts_them() {
    let k = Kube::new();
    k.apply(&k.write("tick.yaml", TICKERS));
    wait_until("3 pods running", PATIENCE, || running_count(&k) == 3);
    let before = pod_containers(&k);
    k.jube().args(["daemon", "stop"]).success();
    assert_eq!(pod_containers(&k), before, "pods keep running without the daemon");

    // The next apply starts a daemon, which adopts the pods: same containers, same processes.
    k.apply(&k.write("tick.yaml", TICKERS))
        .stdout_contains("replicationcontroller/tick unchanged");
    let pod_json = k.json(&["pods"]);
    assert_eq!(pod_json["items"].as_array().unwrap().len(), 3);
    wait_until("the new daemon has looked at the pods", PATIENCE, || {
        std::fs::read_to_string(k.env.home().join("daemon.log"))
            .unwrap_or_default()
            .matches("listening on")
            .count()
            == 2
    });
    assert_eq!(pod_containers(&k), before);

    k.jube().args(["daemon", "stop", "--stop-pods"]).success();
    assert_eq!(running_count(&k), 0, "--stop-pods stops every pod's containers");
}

#[test]
fn a_sigkilled_daemon_loses_nothing_and_starts_nothing_twice() {
    let k = Kube::new();
    let first = k.jube().arg("daemon").spawn();
    wait_until("daemon.addr written", PATIENCE, || k.daemon_addr().exists());
    k.apply(&k.write("tick.yaml", TICKERS));
    wait_until("3 pods running", PATIENCE, || running_count(&k) == 3);
    let before = pod_containers(&k);
    first.signal(nix::sys::signal::Signal::SIGKILL);
    let _ = first.wait();

    // A new daemon: the acknowledged RC is still there, the pods are adopted, not started again.
    let _second = k.jube().arg("daemon").spawn();
    wait_until("the new daemon answers", PATIENCE, || {
        k.jube().args(["get", "rc", "tick"]).output().code == Some(0)
    });
    k.jube().args(["scale", "rc/tick", "--replicas", "4"]).success();
    wait_until("a fourth pod runs", PATIENCE, || running_count(&k) == 4);
    let after = pod_containers(&k);
    for (name, id_pid) in &before {
        assert_eq!(after.get(name), Some(id_pid), "{name} was adopted as it was");
    }
    let pods = k.json(&["pods"]);
    for p in pods["items"].as_array().unwrap() {
        assert_eq!(p["status"]["containerStatuses"][0]["restartCount"], 0, "{p}");
    }
}

#[test]
fn containers_of_pods_are_the_daemons_to_remove() {
    let k = Kube::new();
    k.apply(&k.write("pod.yaml", &pod("solo", "default", "app: solo")));
    wait_until("the pod runs", PATIENCE, || running_count(&k) == 1);
    let name = pod_containers(&k).into_keys().next().unwrap();
    assert_eq!(name, "k8s_main_solo_default");
    let out = k.jube().args(["rm", "-f", &name]).failure();
    out.stderr_contains("belongs to pod default/solo")
        .stderr_contains("jube delete pod solo");
    k.jube().args(["delete", "pod", "solo"]).success();
    wait_until("the container is gone", PATIENCE, || {
        pod_containers(&k).is_empty()
    });
}

#[test]
fn a_service_without_ready_pods_closes_connections_at_once() {
    let k = Kube::new();
    let svc = "apiVersion: v1
kind: Service
metadata:
  name: lonely
spec:
  selector:
    app: nobody
  ports:
  - port: 80
    targetPort: 8080
";
    k.apply(&k.write("svc.yaml", svc));
    let (ip, port) = {
        let (mut ip, mut port) = (String::new(), 0);
        wait_until("the proxy listens", PATIENCE, || {
            let s = k.json(&["svc", "lonely"]);
            let ingress = &s["status"]["loadBalancer"]["ingress"][0];
            ip = ingress["ip"].as_str().unwrap_or_default().to_owned();
            port = ingress["ports"][0]["port"].as_u64().unwrap_or(0);
            port != 0
        });
        (ip, port as u16)
    };
    let mut conn = std::net::TcpStream::connect((ip.as_str(), port)).expect("the proxy accepts");
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 16];
    let n = conn.read(&mut buf).expect("a clean close, not a hang or a reset");
    assert_eq!(n, 0, "no backend: the connection is closed at once");
}

/// One-shot pods: an app that ends at once is a completed (or failed) run with its real exit code,
/// which the daemon learns by reaping the app start.sh left behind.
#[test]
fn one_shot_pods_complete_with_their_exit_codes() {
    let k = Kube::new();
    let pod = |name: &str, command: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  restartPolicy: Never\n  \
             containers:\n  - name: main\n    image: fabric8/ticker\n    command: [{command}]\n"
        )
    };
    k.apply(&k.write(
        "jobs.yaml",
        &[pod("yes", "'true'"), pod("no", "'false'")].join("---\n"),
    ));
    let phase = |name: &str| {
        k.json(&["pod", name])["status"]["phase"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    wait_until("both pods ended", PATIENCE, || {
        phase("yes") == "Succeeded" && phase("no") == "Failed"
    });
    for (name, code, reason) in [("yes", 0, "Completed"), ("no", 1, "Error")] {
        let p = k.json(&["pod", name]);
        let terminated = &p["status"]["containerStatuses"][0]["state"]["terminated"];
        assert_eq!(terminated["exitCode"], code, "{p}");
        assert_eq!(terminated["reason"], reason, "{p}");
        assert_eq!(p["status"]["containerStatuses"][0]["restartCount"], 0, "{p}");
    }
}
