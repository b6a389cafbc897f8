//! The real kubectl against jube's daemon: apply (with its validation), get (tables), scale,
//! logs, patch, watch and delete, as a Kubernetes user would type them.

use std::time::Duration;

use crate::api_support::Api;
use crate::common::{Cmd, wait_until};

const APP: &str = "apiVersion: v1
kind: ReplicationController
metadata:
  name: web
spec:
  replicas: 2
  selector:
    app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: ticker
        image: fabric8/ticker
        env:
        - name: TICK_INTERVAL
          value: \"0.2\"
        - name: TICK_MESSAGE
          value: kubectl-tick
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
";

fn kubectl(api: &Api) -> Cmd {
    assert!(
        std::process::Command::new("kubectl")
            .arg("version")
            .arg("--client")
            .output()
            .is_ok(),
        "kubectl is not installed (apt-get install kubectl)"
    );
    api.env
        .command("kubectl")
        .args(["--server", &api.base, "--request-timeout", "30s"])
}

fn pod_names(api: &Api) -> Vec<String> {
    let out = kubectl(api)
        .args(["get", "pods", "-l", "app=web", "-o", "name"])
        .success();
    out.stdout.lines().map(str::to_owned).collect()
}

#[test]
fn kubectl_applies_gets_scales_logs_patches_watches_and_deletes() {
    let api = Api::start();
    let file = api.env.root().join("app.yaml");
    std::fs::write(&file, APP).unwrap();
    let applied = kubectl(&api).arg("apply").arg("-f").arg(&file).success();
    applied
        .stdout_contains("replicationcontroller/web created")
        .stdout_contains("service/web created");
    kubectl(&api)
        .arg("apply")
        .arg("-f")
        .arg(&file)
        .success()
        .stdout_contains("replicationcontroller/web unchanged");

    let rc = kubectl(&api).args(["get", "rc", "-o", "wide"]).success();
    let header: Vec<&str> = rc.stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "DESIRED",
            "CURRENT",
            "READY",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ],
        "{rc}"
    );
    rc.stdout_contains("fabric8/ticker");
    wait_until("two pods", Duration::from_secs(60), || pod_names(&api).len() == 2);
    let pods = kubectl(&api).args(["get", "pods"]).success();
    assert!(pods.stdout.starts_with("NAME "), "{pods}");
    pods.stdout_contains("RESTARTS");
    let all = kubectl(&api).args(["get", "all"]).success();
    all.stdout_contains("pod/web-")
        .stdout_contains("replicationcontroller/web")
        .stdout_contains("service/web");

    kubectl(&api)
        .args(["scale", "rc", "web", "--replicas=1"])
        .success()
        .stdout_contains("replicationcontroller/web scaled");
    wait_until("one pod", Duration::from_secs(60), || pod_names(&api).len() == 1);
    let pod = pod_names(&api).remove(0);
    let pod = pod.trim_start_matches("pod/");
    wait_until("the pod's log", Duration::from_secs(60), || {
        kubectl(&api)
            .args(["logs", pod, "--tail=5"])
            .output()
            .stdout
            .contains("kubectl-tick")
    });

    kubectl(&api)
        .args([
            "patch",
            "svc",
            "web",
            "-p",
            r#"{"metadata":{"labels":{"tier":"front"}}}"#,
        ])
        .success()
        .stdout_contains("service/web patched");
    kubectl(&api)
        .args(["get", "svc", "-l", "tier=front", "-o", "name"])
        .success()
        .stdout_contains("service/web");

    // A typo is refused by the server's strict validation, as a cluster refuses it.
    std::fs::write(&file, APP.replace("replicas: 2", "replcas: 2")).unwrap();
    let typo = kubectl(&api).arg("apply").arg("-f").arg(&file).failure();
    typo.stderr_contains("unknown field \"spec.replcas\"");

    let mut watch = kubectl(&api).args(["get", "ns", "-w"]).spawn();
    watch.wait_for_stdout("default", Duration::from_secs(30));
    let ns_file = api.env.root().join("ns.yaml");
    std::fs::write(
        &ns_file,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dev\n",
    )
    .unwrap();
    kubectl(&api).arg("apply").arg("-f").arg(&ns_file).success();
    watch.wait_for_stdout("dev", Duration::from_secs(30));
    drop(watch);

    kubectl(&api)
        .args(["delete", "rc", "web"])
        .success()
        .stdout_contains("replicationcontroller \"web\" deleted");
    wait_until("no pods", Duration::from_secs(60), || pod_names(&api).is_empty());
    kubectl(&api)
        .args(["delete", "ns", "default"])
        .failure()
        .stderr_contains("Error from server (Forbidden): namespaces \"default\" is forbidden");
    kubectl(&api)
        .args(["get", "pod", "ghost"])
        .failure()
        .stderr_contains("pods \"ghost\" not found");
    api.stop();
}

/// `kubectl create namespace` and `kubectl create service` send protobuf, with no JSON fallback.
#[test]
fn kubectl_create_namespace_and_service_send_protobuf_that_jube_reads() {
    let api = Api::start();
    kubectl(&api)
        .args(["create", "namespace", "dev"])
        .success()
        .stdout_contains("namespace/dev created");
    let created = kubectl(&api)
        .args([
            "create",
            "service",
            "nodeport",
            "web",
            "--tcp=5678:8080",
            "-n",
            "dev",
        ])
        .success();
    created.stdout_contains("service/web created");
    assert!(!created.stderr.contains("ignored"), "{created}");

    let service = api.get("/api/v1/namespaces/dev/services/web");
    let spec = &service.expect(200, None)["spec"];
    assert_eq!(spec["type"], "NodePort");
    assert_eq!(spec["selector"], serde_json::json!({"app": "web"}));
    let port = &spec["ports"][0];
    assert_eq!(
        (
            &port["name"],
            &port["port"],
            &port["targetPort"],
            &port["protocol"]
        ),
        (&"5678-8080".into(), &5678.into(), &8080.into(), &"TCP".into()),
        "{spec}"
    );
    kubectl(&api)
        .args(["get", "svc", "-n", "dev"])
        .success()
        .stdout_contains("web");
    let described = kubectl(&api)
        .args(["describe", "svc", "web", "-n", "dev"])
        .success();
    described
        .stdout_contains("Namespace:")
        .stdout_contains("app=web")
        .stdout_contains("5678/TCP");
    kubectl(&api)
        .args(["delete", "namespace", "dev"])
        .success()
        .stdout_contains("namespace \"dev\" deleted");

    // Protobuf that is not Kubernetes' framing is a bad request that says why.
    let garbage = api.request(
        "POST",
        "/api/v1/namespaces",
        Some("application/vnd.kubernetes.protobuf"),
        Some(b"not protobuf"),
    );
    assert!(
        garbage
            .expect(400, Some("BadRequest"))
            .to_string()
            .contains("magic")
    );
    api.stop();
}
