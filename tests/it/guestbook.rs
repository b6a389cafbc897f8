//! The guestbook example from the README, end to end: a frontend RC of three behind a service,
//! reaching a backend service through `BACKEND_SERVICE_HOST/PORT`; then a crash, a scale and a
//! delete. Runs the stock Java image (scripts/test installs a Java runtime).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::common::{missing, wait_until};
use crate::kubectl_like::{Kube, PATIENCE};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/guestbook")
}

/// Pods of a tier that are Ready, by name.
fn ready(k: &Kube, tier: &str) -> Vec<String> {
    k.ready_pods(&format!("tier={tier}"))
}

/// Where a service's proxy listens (its own address), as the daemon records it.
fn proxy_at(k: &Kube, service: &str) -> String {
    let svc = k.json(&["svc", service]);
    let ip = svc["status"]["loadBalancer"]["ingress"][0]["ip"]
        .as_str()
        .expect("the proxy address is recorded")
        .to_owned();
    let port = *k
        .proxy_ports(service)
        .first()
        .expect("the proxy port is recorded");
    format!("{ip}:{port}")
}

fn get(at: &str) -> Option<String> {
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "5", &format!("http://{at}/")])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn pod_containers(k: &Kube, pod_prefix: &str) -> Vec<Value> {
    let out = k.jube().args(["ps", "--format", "json"]).success();
    let all: Vec<Value> = serde_json::from_str(&out.stdout).expect("ps --format json");
    all.into_iter()
        .filter(|c| {
            c["name"]
                .as_str()
                .is_some_and(|n| n.contains(&format!("_{pod_prefix}")))
        })
        .collect()
}

#[test]
fn guestbook_runs_heals_scales_and_goes() {
    if missing(
        which("java").is_some(),
        "a Java runtime (apt-get install default-jdk-headless)",
    ) {
        return;
    }
    let k = Kube::new();
    let out = k.jube().args(["apply", "-f"]).arg(example()).success();
    for line in [
        "replicationcontroller/backend created",
        "service/backend created",
        "replicationcontroller/frontend created",
        "service/frontend created",
    ] {
        out.stdout_contains(line);
    }
    wait_until("3 frontend and 2 backend pods ready", PATIENCE, || {
        ready(&k, "frontend").len() == 3 && ready(&k, "backend").len() == 2
    });

    // Through the frontend service to a frontend pod, which asks the backend through its service.
    let frontend = proxy_at(&k, "frontend");
    let page = get(&frontend).expect("the frontend service answers");
    assert!(page.contains("Hello from jube!"), "{page}");
    let backend = k.json(&["svc", "backend"]);
    let backend_ip = backend["spec"]["clusterIP"].as_str().expect("a cluster IP");
    assert!(
        page.contains(&format!("backend backend: answered from {backend_ip}:")),
        "{page}"
    );
    // Round robin: three requests meet three different frontend pods.
    let ports: std::collections::BTreeSet<String> = (0..6)
        .filter_map(|_| get(&frontend))
        .filter_map(|p| p.lines().find(|l| l.starts_with("port:")).map(str::to_owned))
        .collect();
    assert_eq!(ports.len(), 3, "{ports:?}");

    // Kill a frontend app: the daemon restarts it and counts the restart.
    let victim = pod_containers(&k, "frontend").remove(0);
    let pid = victim["pid"].as_u64().expect("a running container has a pid") as i32;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL)
        .expect("kill the app");
    let pod_name = victim["name"]
        .as_str()
        .unwrap()
        .split('_')
        .nth(2)
        .unwrap()
        .to_owned();
    wait_until("the killed pod restarts and is ready again", PATIENCE, || {
        let pod = k.json(&["pod", &pod_name]);
        pod["status"]["containerStatuses"][0]["restartCount"].as_u64() >= Some(1)
            && ready(&k, "frontend").contains(&pod_name)
    });
    let pod = k.json(&["pod", &pod_name]);
    assert_eq!(
        pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"], 137,
        "{pod}"
    );

    // Scale down: two pods and their containers go.
    k.jube()
        .args(["scale", "rc/frontend", "--replicas", "1"])
        .success()
        .stdout_contains("replicationcontroller/frontend scaled");
    wait_until("one frontend pod and container left", PATIENCE, || {
        k.names(&["pods", "-l", "tier=frontend"]).len() == 1 && pod_containers(&k, "frontend").len() == 1
    });
    assert!(get(&frontend).is_some_and(|p| p.contains("Hello from jube!")));

    // Delete everything: pods, containers and proxies go.
    k.jube().args(["delete", "-f"]).arg(example()).success();
    wait_until("every pod and container gone", PATIENCE, || {
        k.names(&["pods"]).is_empty() && pod_containers(&k, "").is_empty()
    });
    wait_until("the frontend proxy closed", Duration::from_secs(10), || {
        get(&frontend).is_none()
    });
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}
