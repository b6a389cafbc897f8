//! The running side of jube's kubectl-like commands: pods the daemon runs, as `jube get pods`
//! shows them (STATUS, READY, RESTARTS as kubectl derives them), `jube logs` of a pod through the
//! API, `jube scale` and `jube delete` changing what runs.

use serde_json::Value;

use crate::common::wait_until;
use crate::kubectl_like::{Kube, PATIENCE, web};

/// The pods of `jube get pods -o json` whose container runs.
fn running(k: &Kube, args: &[&str]) -> Vec<String> {
    let list = k.json(&[&["pods"][..], args].concat());
    list["items"]
        .as_array()
        .expect("a List")
        .iter()
        .filter(|p| p.pointer("/status/containerStatuses/0/state/running").is_some())
        .map(|p| p["metadata"]["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The pod-owned containers `jube ps` shows (names `k8s_<container>_<pod>_<ns>`).
fn pod_containers(k: &Kube) -> Vec<String> {
    let out = k.jube().args(["ps", "--format", "json"]).success();
    let list: Value = serde_json::from_str(&out.stdout).expect("ps JSON");
    list.as_array()
        .expect("an array")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .filter(|n| n.starts_with("k8s_"))
        .map(str::to_owned)
        .collect()
}

/// The STATUS and RESTARTS cells of a pod's row in `jube get pods`.
fn status_of(k: &Kube, pod: &str) -> (String, String) {
    let out = k.jube().args(["get", "pods", pod, "--no-headers"]).success();
    let cells: Vec<&str> = out.stdout.split_whitespace().collect();
    (
        cells.get(2).copied().unwrap_or_default().to_owned(),
        cells.get(3).copied().unwrap_or_default().to_owned(),
    )
}

/// Waits until a pod's STATUS and RESTARTS cells satisfy `ok`; on timeout shows the pod.
#[track_caller]
fn wait_for_status(k: &Kube, pod: &str, ok: impl Fn(&str, &str) -> bool) {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let (status, restarts) = status_of(k, pod);
        if ok(&status, &restarts) {
            return;
        }
        if std::time::Instant::now() > deadline {
            let object = k.json(&["pods", pod]);
            let log = std::fs::read_to_string(k.env.home().join("daemon.log")).unwrap_or_default();
            panic!(
                "pod {pod}: STATUS {status}, RESTARTS {restarts}; as JSON:\n{object:#}\ndaemon.log:\n{log}"
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn running_pods_show_in_get_and_their_logs_come_through_the_api() {
    let k = Kube::new();
    k.apply(&k.write("app.yaml", &web(2)));
    wait_until("two running pods", PATIENCE, || running(&k, &[]).len() == 2);
    let pods = running(&k, &[]);
    let pod = pods[0].clone();
    assert!(
        pod.starts_with("web-") && pod.len() == "web-".len() + 5,
        "{pods:?}"
    );

    let out = k.jube().args(["get", "pods"]).success();
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with(&pod))
        .expect("the pod's row");
    let cells: Vec<&str> = line.split_whitespace().collect();
    // The ticker listens on no port, so it never becomes ready.
    assert_eq!(&cells[1..4], ["0/1", "Running", "0"], "{out}");
    let out = k.jube().args(["get", "rc", "web", "--no-headers"]).success();
    assert_eq!(
        out.stdout.split_whitespace().take(3).collect::<Vec<_>>(),
        ["web", "2", "2"],
        "{out}"
    );

    // `jube logs POD`: no container has that name, so the daemon's pods/{name}/log answers.
    wait_until("the ticker to log", PATIENCE, || {
        k.jube()
            .args(["logs", &pod])
            .success()
            .stdout
            .contains("beat 2\n")
    });
    let out = k
        .jube()
        .args(["logs", &format!("pod/{pod}"), "-c", "ticker", "--tail", "1"])
        .success();
    out.stdout_lacks("beat 1\n").stdout_contains("beat ");
    let out = k.jube().args(["logs", &pod, "-c", "nope"]).code(1);
    out.stderr_contains(&format!("container nope is not valid for pod {pod}"));
    let out = k.jube().args(["logs", "rc/web"]).success();
    out.stderr_contains("Found 2 pods, using pod/web-")
        .stdout_contains("beat ");
    let out = k.jube().args(["logs", "web-nope"]).code(1);
    out.stderr_contains("no container or pod named \"web-nope\"");
    // The pod's container by its own name: the container's logs, as before.
    let out = k
        .jube()
        .args(["logs", &format!("k8s_ticker_{pod}_default")])
        .success();
    out.stdout_contains("beat ");

    // -f follows what the ticker writes, and ends when the pod is deleted.
    let mut follow = k.jube().args(["logs", "-f", &pod]).timeout(PATIENCE * 2).spawn();
    follow.wait_for_stdout("beat ", PATIENCE);
    let seen = follow.stdout_so_far().matches("beat ").count();
    wait_until("more lines in the follow", PATIENCE, || {
        follow.stdout_so_far().matches("beat ").count() > seen + 2
    });
    let out = k.jube().args(["delete", "pod", &pod]).success();
    assert_eq!(out.stdout, format!("pod \"{pod}\" deleted\n"), "{out}");
    // delete returned once the daemon removed the pod's container.
    let left = pod_containers(&k);
    assert!(!left.iter().any(|c| c.contains(&pod)), "{left:?}");
    let out = follow.wait();
    assert_eq!(out.code, Some(0), "{out}");

    // The RC makes a new pod in its place.
    wait_until("a replacement pod", PATIENCE, || {
        let now = running(&k, &[]);
        now.len() == 2 && !now.contains(&pod)
    });

    // A pod that declares no port is ready once it runs: READY 1/1.
    k.apply(&k.write(
        "solo.yaml",
        &crate::kubectl_like::pod("solo", "default", "app: solo"),
    ));
    wait_until("solo to be ready", PATIENCE, || {
        let out = k.jube().args(["get", "pods", "solo", "--no-headers"]).success();
        out.stdout.split_whitespace().take(3).collect::<Vec<_>>() == ["solo", "1/1", "Running"]
    });
}

#[test]
fn scale_and_delete_change_what_runs() {
    let k = Kube::new();
    k.apply(&k.write("app.yaml", &web(1)));
    wait_until("one running pod", PATIENCE, || running(&k, &[]).len() == 1);
    k.jube().args(["scale", "rc/web", "--replicas", "3"]).success();
    wait_until("three running pods", PATIENCE, || running(&k, &[]).len() == 3);
    assert_eq!(pod_containers(&k).len(), 3);
    k.jube().args(["scale", "rc", "web", "--replicas", "1"]).success();
    wait_until("one pod container left", PATIENCE, || {
        pod_containers(&k).len() == 1
    });
    // A pod whose containers are gone leaves the list at the daemon's next look.
    wait_until("one running pod left", PATIENCE, || running(&k, &[]).len() == 1);

    // Deleting the RC takes its pods, and delete returns once their containers are gone.
    let out = k.jube().args(["delete", "rc", "web"]).success();
    assert_eq!(out.stdout, "replicationcontroller \"web\" deleted\n", "{out}");
    assert_eq!(pod_containers(&k), Vec::<String>::new());
    let out = k.jube().args(["get", "pods"]).success();
    out.stderr_contains("No resources found in default namespace.");
}

#[test]
fn pod_status_shows_crash_loops_completions_and_errors() {
    let k = Kube::new();
    // The apps live a moment before they end, so that each is seen running first (one-shot apps
    // that end at once are tested in daemon.rs).
    let pod = |name: &str, args: &str, policy: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  restartPolicy: {policy}\n  \
             containers:\n  - name: main\n    image: fabric8/ticker\n    command: [timeout]\n    args: [{args}]\n"
        )
    };
    let pods = [
        pod("crash", "'0.5', sleep, '5'", "Always"),
        pod("done", "'5', sleep, '0.5'", "Never"),
        pod("failed", "'0.5', sleep, '5'", "Never"),
    ]
    .join("---\n");
    k.apply(&k.write("pods.yaml", &pods));
    wait_for_status(&k, "crash", |status, restarts| {
        status == "CrashLoopBackOff" && restarts.parse::<u32>().is_ok_and(|n| n >= 1)
    });
    wait_for_status(&k, "done", |status, _| status == "Completed");
    wait_for_status(&k, "failed", |status, _| status == "Error");
    let out = k
        .jube()
        .args(["get", "pods", "done", "failed", "--no-headers"])
        .success();
    for line in out.stdout.lines() {
        assert_eq!(line.split_whitespace().nth(1), Some("0/1"), "{out}");
    }
    let failed = k.json(&["pods", "failed"]);
    assert_eq!(failed["status"]["phase"], "Failed", "{failed}");
    assert_eq!(
        failed.pointer("/status/containerStatuses/0/state/terminated/exitCode"),
        Some(&serde_json::json!(124)),
        "{failed}"
    );
}

#[test]
fn service_ports_show_where_the_proxy_listens() {
    let k = Kube::new();
    // The service port is taken on every address (the service's own one too), so the daemon's
    // proxy listens on a leased port instead.
    let taken = std::net::TcpListener::bind("0.0.0.0:0").expect("bind a port");
    let port = taken.local_addr().expect("its address").port();
    let svc = format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  selector:\n    app: api\n  \
         ports:\n  - name: http\n    port: {port}\n    targetPort: 8080\n"
    );
    k.apply(&k.write("svc.yaml", &svc));
    let mut listen = 0;
    wait_until("the proxy's port in the service's status", PATIENCE, || {
        let svc = k.json(&["svc", "api"]);
        listen = svc
            .pointer("/status/loadBalancer/ingress/0/ports/0/port")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        listen != 0
    });
    let (start, end) = k.env.port_range();
    assert!((u64::from(start)..=u64::from(end)).contains(&listen), "{listen}");
    let out = k.jube().args(["get", "svc", "api", "--no-headers"]).success();
    let cells: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(cells[4], format!("{port}:{listen}/TCP"), "{out}");
    drop(taken);
}
