//! Probes through the real kubectl against a real daemon: a liveness probe that starts failing
//! restarts the container (the restart policy's back-off applies), and a readiness probe that fails takes the pod out of
//! its Service's rotation, so that not one request reaches it.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::common::fixtures::{self, ZipEntry};
use crate::common::wait_until;
use crate::workloads::{Cluster, SERVER_PL, greeting, proxy_addr};

const PATIENCE: Duration = Duration::from_secs(60);
const IMAGE: &str = "example/named";

/// Greets each connection with `hello <pod name>` on HTTP_PORT.
fn named_image() -> Vec<u8> {
    fixtures::image_zip(&[
        ZipEntry::script(
            "run.sh",
            "#!/bin/sh\nexport VERSION=\"$HOSTNAME\"\nexec perl \"$(dirname \"$0\")/server.pl\"\n",
        ),
        ZipEntry::file("server.pl", SERVER_PL),
        ZipEntry::file("ports.properties", "HTTP=8080\n"),
    ])
}

/// Two replicas behind the `web` Service; a pod is sick while its app folder holds `sick`, and
/// unready while it holds `unready`.
const MANIFEST: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: example/named:1.0
        ports:
        - {name: http, containerPort: 8080}
        # Generous timeouts: on a loaded machine a shell can take more than the default second to
        # start, and a timed-out liveness probe counts as a failure (as in Kubernetes).
        readinessProbe:
          exec: {command: [sh, -c, 'test ! -f unready']}
          periodSeconds: 1
          timeoutSeconds: 10
          failureThreshold: 1
        livenessProbe:
          exec: {command: [sh, -c, 'test ! -f sick']}
          periodSeconds: 1
          timeoutSeconds: 10
          failureThreshold: 2
        startupProbe:
          tcpSocket: {port: http}
          periodSeconds: 1
          failureThreshold: 30
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
";

fn pods(c: &Cluster) -> Vec<Value> {
    c.json(&["pods", "-l", "app=web"])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn app_base(c: &Cluster, pod: &str) -> PathBuf {
    let out = c
        .api
        .env
        .jube()
        .args(["inspect", &format!("k8s_web_{pod}_default")])
        .success();
    let v: Value = serde_json::from_str(&out.stdout).expect("inspect prints JSON");
    PathBuf::from(v[0]["app_base_path"].as_str().expect("an app base"))
}

fn both_ready(c: &Cluster) -> Vec<String> {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let all = pods(c);
        let names: Vec<String> = all
            .iter()
            .filter(|p| is_ready(p))
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_owned())
            .collect();
        if all.len() == 2 && names.len() == 2 {
            return names;
        }
        let log = std::fs::read_to_string(c.api.env.home().join("daemon.log")).unwrap_or_default();
        assert!(
            std::time::Instant::now() < deadline,
            "no two ready pods: {all:?}\n{log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_failing_readiness_probe_takes_the_pod_out_of_rotation() {
    let c = Cluster::serving(&[(IMAGE, "1.0", named_image())]);
    c.apply("web.yaml", MANIFEST);
    let names = both_ready(&c);
    let addr = proxy_addr(&c);
    let (sick, healthy) = (&names[0], &names[1]);

    std::fs::write(app_base(&c, sick).join("unready"), "").unwrap();
    wait_until("the pod to turn unready", PATIENCE, || {
        pods(&c)
            .iter()
            .any(|p| p["metadata"]["name"] == sick.as_str() && !is_ready(p))
    });
    let describe = c.kubectl().args(["describe", "pod", sick]).success();
    describe.stdout_contains("Ready").stdout_contains("False");
    // The proxy follows the endpoints within a moment; after that, not one request reaches it.
    std::thread::sleep(Duration::from_secs(2));
    for _ in 0..40 {
        let answer = greeting(addr).expect("the healthy pod answers");
        assert_eq!(
            answer,
            format!("hello {healthy}"),
            "a request reached the unready pod"
        );
    }
    let restarts = pods(&c)
        .iter()
        .map(|p| {
            p["status"]["containerStatuses"][0]["restartCount"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum::<u64>();
    assert_eq!(restarts, 0, "readiness never restarts a container");

    // Ready again once the probe passes; both answer.
    std::fs::remove_file(app_base(&c, sick).join("unready")).unwrap();
    both_ready(&c);
    let mut seen = std::collections::BTreeSet::new();
    wait_until("both pods answering", PATIENCE, || {
        seen.insert(greeting(addr).unwrap_or_default());
        seen.contains(&format!("hello {sick}")) && seen.contains(&format!("hello {healthy}"))
    });
}

#[test]
fn a_failing_liveness_probe_restarts_the_container_with_back_off() {
    let c = Cluster::serving(&[(IMAGE, "1.0", named_image())]);
    c.apply("web.yaml", MANIFEST);
    let names = both_ready(&c);
    let victim = &names[0];
    let sick = app_base(&c, victim).join("sick");
    std::fs::write(&sick, "").unwrap();
    let mut restarted = Value::Null;
    wait_until("the liveness restart", PATIENCE, || {
        restarted = pods(&c)
            .into_iter()
            .find(|p| p["metadata"]["name"] == victim.as_str())
            .unwrap_or_default();
        restarted["status"]["containerStatuses"][0]["restartCount"].as_u64() >= Some(1)
    });
    std::fs::remove_file(&sick).unwrap();
    both_ready(&c);
    let log = std::fs::read_to_string(c.api.env.home().join("daemon.log")).unwrap();
    assert!(
        log.contains(&format!(
            "pod default/{victim} container web: Unhealthy: Liveness probe failed: "
        )),
        "{log}"
    );
    assert!(
        log.contains("Killing: Container web failed liveness probe, will be restarted"),
        "{log}"
    );
    let last = &restarted["status"]["containerStatuses"][0]["lastState"]["terminated"];
    assert!(last["finishedAt"].is_string(), "the last run ended: {restarted}");
    // Events, as kubectl shows them: the table and the pod's description.
    let events = c
        .kubectl()
        .args([
            "get",
            "events",
            "--field-selector",
            &format!("involvedObject.name={victim}"),
        ])
        .success();
    events
        .stdout_contains("LAST SEEN")
        .stdout_contains("Unhealthy")
        .stdout_contains("Liveness probe failed: command \"sh -c test ! -f sick\" exited with 1")
        .stdout_contains("Killing")
        .stdout_contains("Container web failed liveness probe, will be restarted");
    let described = c.kubectl().args(["describe", "pod", victim]).success();
    described
        .stdout_contains("Scheduled")
        .stdout_contains("Started container web")
        .stdout_contains("Warning  Unhealthy");
    let jube = c.api.env.jube().args(["describe", "pod", victim]).success();
    jube.stdout_contains("Killing").stdout_contains("Unhealthy");
    let unhealthy = c.json(&["events", "--field-selector", "reason=Unhealthy"]);
    assert!(
        unhealthy["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["count"].as_u64() >= Some(2)),
        "repeats are counted on one event: {unhealthy}"
    );
    let other = pods(&c)
        .into_iter()
        .find(|p| p["metadata"]["name"] == names[1].as_str())
        .unwrap();
    assert_eq!(
        other["status"]["containerStatuses"][0]["restartCount"], 0,
        "the healthy pod runs on"
    );
}

#[test]
fn events_expire_after_the_daemon_s_event_ttl() {
    let mut env = crate::common::TestEnv::new();
    env.set_env("JUBE_BACKOFF_BASE", "0.2");
    let api = crate::api_support::Api::launch(
        env,
        &crate::api_support::Launch {
            args: &["--event-ttl", "2s"],
            token: None,
        },
    );
    let path = api.env.root().join("pod.yaml");
    std::fs::write(&path, "apiVersion: v1\nkind: Pod\nmetadata: {name: tick}\nspec:\n  containers:\n  - {name: tick, image: fabric8/ticker}\n").unwrap();
    api.env.jube().arg("apply").arg("-f").arg(&path).success();
    let count = || {
        api.get("/api/v1/namespaces/default/events").body["items"]
            .as_array()
            .map_or(0, Vec::len)
    };
    wait_until("the pod's events", PATIENCE, || count() >= 5);
    let reasons: Vec<String> = api.get("/api/v1/namespaces/default/events").body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    for reason in ["Scheduled", "Pulling", "Pulled", "Created", "Started"] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "{reason} missing from {reasons:?}"
        );
    }
    // The same events in events.k8s.io/v1's shape, through the real kubectl.
    let kubectl = |args: &[&str]| {
        api.env
            .command("kubectl")
            .args(["--server", &api.base])
            .args(args)
            .success()
    };
    let v1: serde_json::Value =
        serde_json::from_str(&kubectl(&["get", "events.v1.events.k8s.io", "-o", "json"]).stdout).unwrap();
    let items = v1["items"].as_array().unwrap();
    assert!(
        items.iter().any(|e| e["reason"] == "Started"
            && e["regarding"]["name"] == "tick"
            && e["note"] == "Started container tick"),
        "{v1}"
    );
    assert!(
        items
            .iter()
            .all(|e| e["apiVersion"] == "events.k8s.io/v1" && e["eventTime"].is_string()),
        "{v1}"
    );
    let selected = api.get("/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=reason%3DScheduled,regarding.name%3Dtick");
    assert_eq!(
        selected.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        selected.body
    );
    kubectl(&["get", "events.events.k8s.io"]).stdout_contains("pod/tick");
    wait_until("the events to expire", PATIENCE, || count() == 0);
    api.env
        .jube()
        .args(["daemon", "--event-ttl", "soon"])
        .failure()
        .stderr_contains("`soon` is not a duration like 1h, 30m or 90s");
}
