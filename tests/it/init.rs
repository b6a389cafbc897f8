//! Init containers and pods of several containers, through the real kubectl against a real
//! daemon: init containers run in order, each to completion, before the app; a failing one is
//! retried and shown as kubectl shows it; several containers share the pod's volumes and each
//! has its own log.

use std::time::Duration;

use serde_json::Value;

use crate::common::fixtures::{self, ZipEntry};
use crate::common::wait_until;
use crate::workloads::Cluster;

const PATIENCE: Duration = Duration::from_secs(60);

/// An image whose entry point idles; pods give it a `command`.
fn idle_image() -> Vec<u8> {
    fixtures::image_zip(&[ZipEntry::script("run.sh", "#!/bin/sh\nexec sleep 300\n")])
}

fn cluster() -> Cluster {
    Cluster::serving(&[("example/idle", "1.0", idle_image())])
}

fn pod(c: &Cluster, name: &str) -> Value {
    c.json(&["pod", name])
}

fn status_column(c: &Cluster, name: &str) -> String {
    let out = c.kubectl().args(["get", "pod", name, "--no-headers"]).success();
    out.stdout
        .split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn init_containers_run_in_order_before_the_app_and_share_its_volumes() {
    let c = cluster();
    c.apply(
        "pod.yaml",
        "apiVersion: v1
kind: Pod
metadata: {name: ordered}
spec:
  volumes:
  - {name: shared, emptyDir: {}}
  initContainers:
  - name: first
    image: example/idle:1.0
    command: [sh, -c, 'sleep 1; date +%s%N > $JUBE_MOUNT_SHARED/first; echo first done']
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: second
    image: example/idle:1.0
    command: [sh, -c, 'test -f shared/first && date +%s%N > shared/second']
    volumeMounts: [{name: shared, mountPath: /shared}]
  containers:
  - name: app
    image: example/idle:1.0
    command: [sh, -c, 'date +%s%N > shared/app; echo app saw $(ls shared | tr \"\\n\" \" \"); exec sleep 300']
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: sidecar
    image: example/idle:1.0
    command: [sh, -c, 'echo sidecar here; exec sleep 300']
",
    );
    let mut seen = Vec::new();
    wait_until("the app to run", PATIENCE, || {
        let status = status_column(&c, "ordered");
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        status == "Running"
    });
    assert!(
        seen.iter().any(|s| s == "Init:0/2"),
        "kubectl showed the first init container running: {seen:?}"
    );
    let p = pod(&c, "ordered");
    let inits = p["status"]["initContainerStatuses"]
        .as_array()
        .expect("init statuses");
    assert_eq!(inits.len(), 2);
    for s in inits {
        assert_eq!(s["state"]["terminated"]["reason"], "Completed", "{s}");
    }
    let shared = std::path::PathBuf::from(c.api.env.home())
        .join("volumes/pods")
        .join(p["metadata"]["uid"].as_str().unwrap())
        .join("shared");
    let stamp = |f: &str| -> u128 {
        std::fs::read_to_string(shared.join(f))
            .unwrap_or_else(|e| panic!("{f}: {e}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert!(stamp("first") < stamp("second"), "first ran before second");
    assert!(stamp("second") < stamp("app"), "the app started after both");
    wait_until("both app containers' logs", PATIENCE, || {
        let app = c.kubectl().args(["logs", "ordered", "-c", "app"]).output();
        let side = c.kubectl().args(["logs", "ordered", "-c", "sidecar"]).output();
        app.stdout.contains("app saw app first second") && side.stdout.contains("sidecar here")
    });
    c.kubectl()
        .args(["logs", "ordered", "-c", "first"])
        .success()
        .stdout_contains("first done");
    // kubectl picks the first app container itself when none is named.
    c.kubectl()
        .args(["logs", "ordered"])
        .success()
        .stdout_contains("app saw");
    let api = c.api.get("/api/v1/namespaces/default/pods/ordered/log");
    assert_eq!(api.code, 400);
    assert_eq!(
        api.message(),
        "a container name must be specified for pod ordered, choose one of: [app sidecar] or one of the init containers: [first second]"
    );
    assert_eq!(p["spec"]["containers"].as_array().unwrap().len(), 2);
    c.kubectl()
        .args(["get", "pod", "ordered"])
        .success()
        .stdout_contains("2/2");
}

#[test]
fn a_failing_init_container_is_retried_and_shown_as_kubectl_shows_it() {
    let c = cluster();
    c.apply(
        "pod.yaml",
        "apiVersion: v1
kind: Pod
metadata: {name: stuck}
spec:
  initContainers:
  - name: wait-for-flag
    image: example/idle:1.0
    command: [sh, -c, 'echo no flag yet; test -f /tmp/jube-never-there-flag']
  containers:
  - name: app
    image: example/idle:1.0
---
apiVersion: v1
kind: Pod
metadata: {name: failed}
spec:
  restartPolicy: Never
  initContainers:
  - name: check
    image: example/idle:1.0
    command: [sh, -c, 'exit 4']
  containers:
  - name: app
    image: example/idle:1.0
",
    );
    let mut seen = std::collections::BTreeSet::new();
    wait_until("a retried init container", PATIENCE, || {
        seen.insert(status_column(&c, "stuck"));
        let restarts = pod(&c, "stuck")["status"]["initContainerStatuses"][0]["restartCount"].as_u64();
        restarts >= Some(2)
            && seen
                .iter()
                .any(|s| s == "Init:CrashLoopBackOff" || s == "Init:Error")
    });
    let p = pod(&c, "stuck");
    assert_eq!(p["status"]["phase"], "Pending");
    assert!(
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing",
        "{p}"
    );
    wait_until("the failed pod", PATIENCE, || {
        pod(&c, "failed")["status"]["phase"] == "Failed"
    });
    assert_eq!(status_column(&c, "failed"), "Init:Error");
    let p = pod(&c, "failed");
    assert_eq!(
        p["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"],
        4
    );
    assert!(
        p["status"]["containerStatuses"][0]["state"]["running"].is_null(),
        "the app never ran: {p}"
    );
}
