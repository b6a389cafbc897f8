//! The node and the resource metrics API through the real kubectl: `get nodes`, `describe node`,
//! the NODE of `get pods -o wide`, and `top pods|nodes` with figures that follow a pod whose
//! process tree burns CPU.

use std::time::Duration;

use crate::api_support::Api;
use crate::common::{Cmd, wait_until};

/// Two pods of the ticker image: `spin` whose shell starts a child that spins (the leader only
/// waits, so only the whole tree shows the load), and `idle`, which sleeps.
const PODS: &str = "apiVersion: v1
kind: Pod
metadata:
  name: spin
  labels:
    load: busy
spec:
  containers:
  - name: burner
    image: fabric8/ticker
    command: [\"sh\", \"-c\", \"sh -c 'while :; do :; done' & wait\"]
---
apiVersion: v1
kind: Pod
metadata:
  name: idle
  labels:
    load: none
spec:
  containers:
  - name: sleeper
    image: fabric8/ticker
    command: [\"sleep\", \"100000\"]
";

fn kubectl(api: &Api) -> Cmd {
    assert!(
        crate::common::runs("kubectl", &["version", "--client"]),
        "kubectl is not installed (apt-get install kubectl)"
    );
    api.env
        .command("kubectl")
        .args(["--server", &api.base, "--request-timeout", "60s"])
}

/// `kubectl top pod` rows: name, millicores, memory bytes.
fn top_pods(api: &Api) -> Vec<(String, u64, u64)> {
    let out = kubectl(api).args(["top", "pod", "--no-headers"]).success();
    out.stdout
        .lines()
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cells.len(), 3, "{out}");
            (cells[0].to_owned(), millicores(cells[1]), mebibytes(cells[2]))
        })
        .collect()
}

fn millicores(cell: &str) -> u64 {
    match cell.strip_suffix('m') {
        Some(m) => m.parse().unwrap(),
        None => cell.parse::<u64>().unwrap() * 1000,
    }
}

fn mebibytes(cell: &str) -> u64 {
    cell.strip_suffix("Mi")
        .unwrap_or_else(|| panic!("memory in Mi: {cell}"))
        .parse()
        .unwrap()
}

#[test]
fn kubectl_sees_the_machine_as_a_node_and_tops_pods_by_their_process_tree() {
    let api = Api::start();
    let node = kubectl(&api).args(["get", "nodes"]).success();
    let lines: Vec<&str> = node.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{node}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATUS", "ROLES", "AGE", "VERSION"], "{node}");
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    let node_name = row[0].to_owned();
    assert_eq!(row[1], "Ready", "{node}");
    assert!(row[4].starts_with("v1.33.0-jube"), "{node}");
    kubectl(&api)
        .args(["get", "nodes", "-o", "wide"])
        .success()
        .stdout_contains("INTERNAL-IP")
        .stdout_contains("127.0.0.1")
        .stdout_contains("KERNEL-VERSION");

    let cpus = std::thread::available_parallelism().unwrap().get();
    let describe = kubectl(&api).args(["describe", "node", &node_name]).success();
    describe
        .stdout_contains(&format!("Name:               {node_name}"))
        .stdout_contains("Capacity:")
        .stdout_contains("Allocatable:")
        .stdout_contains(&format!("  cpu:                {cpus}"))
        .stdout_contains("  memory:")
        .stdout_contains("  pods:               110")
        .stdout_contains("InternalIP:  127.0.0.1")
        .stdout_contains("Kernel Version:")
        .stdout_contains(&format!(
            "Architecture:               {}",
            match std::env::consts::ARCH {
                "x86_64" => "amd64",
                "aarch64" => "arm64",
                other => other,
            }
        ))
        .stdout_contains("Ready");
    // A watch shows the node, then waits: it never changes.
    let mut watch = kubectl(&api).args(["get", "nodes", "-w"]).spawn();
    watch.wait_for_stdout(&node_name, Duration::from_secs(30));
    assert!(watch.is_running(), "the watch ended: {}", watch.stderr_so_far());
    watch.kill();
    kubectl(&api)
        .args(["get", "node", "no-such-node"])
        .failure()
        .stderr_contains("nodes \"no-such-node\" not found");

    let file = api.env.root().join("pods.yaml");
    std::fs::write(&file, PODS).unwrap();
    kubectl(&api).arg("apply").arg("-f").arg(&file).success();
    wait_until("both pods running", Duration::from_secs(120), || {
        let out = kubectl(&api).args(["get", "pods", "--no-headers"]).output();
        out.stdout.lines().filter(|l| l.contains("Running")).count() == 2
    });
    let wide = kubectl(&api).args(["get", "pods", "-o", "wide"]).success();
    let header: Vec<&str> = wide.stdout.lines().next().unwrap().split_whitespace().collect();
    let node_column = header.iter().position(|h| *h == "NODE").expect("a NODE column");
    for line in wide.stdout.lines().skip(1) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[node_column], node_name, "{wide}");
    }
    kubectl(&api)
        .args(["get", "pod", "spin", "-o", "jsonpath={.spec.nodeName}"])
        .success()
        .stdout_contains(&node_name);
    kubectl(&api)
        .args(["describe", "node", &node_name])
        .success()
        .stdout_contains("Non-terminated Pods:")
        .stdout_contains("spin");

    // The spinning child has run a while by the second reading; the idle pod stays near zero.
    let mut last = Vec::new();
    wait_until(
        "the busy pod's CPU well above the idle one's",
        Duration::from_secs(60),
        || {
            last = top_pods(&api);
            let cpu = |name: &str| last.iter().find(|(n, _, _)| n == name).map(|p| p.1);
            matches!((cpu("spin"), cpu("idle")), (Some(busy), Some(idle)) if busy >= 150 && busy > idle + 100)
        },
    );
    for (name, _, memory) in &last {
        assert!(*memory > 0, "{name} uses no memory? {last:?}");
    }
    kubectl(&api)
        .args(["top", "pod", "spin", "--containers"])
        .success()
        .stdout_contains("burner");
    let selected = kubectl(&api).args(["top", "pod", "-l", "load=none"]).success();
    selected.stdout_contains("idle").stdout_lacks("spin");

    let nodes = kubectl(&api).args(["top", "node"]).success();
    let lines: Vec<&str> = nodes.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"],
        "{nodes}"
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[0], node_name, "{nodes}");
    // The busy pod alone keeps a good part of a core busy, even on a loaded machine.
    assert!(millicores(row[1]) >= 150, "{nodes}");
    assert!(mebibytes(row[3]) > 0, "{nodes}");

    kubectl(&api)
        .args(["delete", "pod", "spin", "idle", "--wait=false"])
        .success();
}
