//! Server-side apply through the real kubectl: `kubectl apply --server-side` creates, re-applies
//! without change, removes what the manifest drops, keeps what other managers set, reports a
//! conflict with another manager's field (naming it) and takes the field with
//! `--force-conflicts`; `--show-managed-fields` shows who owns what.

use serde_json::Value;

use crate::workloads::Cluster;

fn deployment(replicas: u32, labels: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
{labels}spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: example/absent:1.0
        ports:
        - containerPort: 8080
"
    )
}

/// Each managedFields entry as (manager, operation).
fn managers(object: &Value) -> Vec<(String, String)> {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (text("manager"), text("operation"))
        })
        .collect()
}

/// The Deployment with its managedFields (kubectl leaves them out unless asked).
fn deploy(c: &Cluster, name: &str) -> Value {
    c.json(&["deploy", name, "--show-managed-fields"])
}

fn pair(manager: &str, operation: &str) -> (String, String) {
    (manager.to_owned(), operation.to_owned())
}

#[test]
fn kubectl_server_side_apply_creates_merges_removes_and_reports_conflicts() {
    let c = Cluster::serving(&[]);
    let ssa = |manifest: String| {
        c.kubectl()
            .args(["apply", "--server-side", "-f", "-"])
            .stdin(manifest)
    };
    ssa(deployment(1, "  labels:\n    team: a\n"))
        .success()
        .stdout_contains("deployment.apps/web serverside-applied");
    let created = deploy(&c, "web");
    assert_eq!(created["metadata"]["labels"]["team"], "a");
    assert_eq!(managers(&created), [pair("kubectl", "Apply")]);
    let fields = &created["metadata"]["managedFields"][0]["fieldsV1"];
    assert!(
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["f:image"]
            .is_object(),
        "{fields}"
    );

    // The same again changes nothing, not even the resourceVersion.
    ssa(deployment(1, "  labels:\n    team: a\n")).success();
    let again = deploy(&c, "web");
    assert_eq!(
        again["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );

    // Another manager's field stays when the applier drops its own.
    c.kubectl()
        .args(["label", "deploy", "web", "owner=ops"])
        .success();
    ssa(deployment(1, "")).success();
    let labels = deploy(&c, "web")["metadata"]["labels"].clone();
    assert!(
        labels.get("team").is_none(),
        "dropped from the manifest: {labels}"
    );
    assert_eq!(labels["owner"], "ops", "another manager's: {labels}");

    // kubectl scale owns replicas now: applying another number is a conflict naming it.
    c.kubectl()
        .args(["scale", "deploy/web", "--replicas=3"])
        .success();
    let scaled = deploy(&c, "web");
    assert!(
        managers(&scaled).contains(&pair("kubectl", "Update")),
        "{:?}",
        managers(&scaled)
    );
    let conflict = ssa(deployment(2, "")).failure();
    conflict
        .stderr_contains(
            "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas",
        )
        .stderr_contains("--force-conflicts");
    assert_eq!(deploy(&c, "web")["spec"]["replicas"], 3);
    // The same number is shared, not a conflict.
    ssa(deployment(3, "")).success();
    // Forced, the applier takes the field.
    c.kubectl()
        .args(["apply", "--server-side", "--force-conflicts", "-f", "-"])
        .stdin(deployment(2, ""))
        .success();
    assert_eq!(deploy(&c, "web")["spec"]["replicas"], 2);

    let shown = c
        .kubectl()
        .args(["get", "deploy", "web", "-o", "yaml", "--show-managed-fields"])
        .success();
    shown
        .stdout_contains("managedFields:")
        .stdout_contains("manager: kubectl\n    operation: Apply")
        .stdout_contains("manager: kubectl-label")
        .stdout_contains("f:replicas: {}");
    let hidden = c.kubectl().args(["get", "deploy", "web", "-o", "yaml"]).success();
    hidden.stdout_lacks("managedFields");
}

#[test]
fn server_side_apply_conflicts_with_client_side_apply_and_needs_a_field_manager() {
    let c = Cluster::serving(&[]);
    c.apply("web.yaml", &deployment(1, ""));
    let applied = deploy(&c, "web");
    assert!(
        managers(&applied).contains(&pair("kubectl-client-side-apply", "Update")),
        "{:?}",
        managers(&applied)
    );
    let conflict = c
        .kubectl()
        .args(["apply", "--server-side", "--field-manager=ci", "-f", "-"])
        .stdin(deployment(4, ""))
        .failure();
    conflict.stderr_contains("conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas");

    // The Status as the API server sends it.
    let api = &c.api;
    let path = "/apis/apps/v1/namespaces/default/deployments/web";
    let body = deployment(4, "");
    let answer = api.request(
        "PATCH",
        &format!("{path}?fieldManager=ci"),
        Some("application/apply-patch+yaml"),
        Some(body.as_bytes()),
    );
    let status = answer.expect(409, Some("Conflict"));
    assert_eq!(status["details"]["causes"][0]["reason"], "FieldManagerConflict");
    assert_eq!(status["details"]["causes"][0]["field"], ".spec.replicas");
    let unnamed = api.request(
        "PATCH",
        path,
        Some("application/apply-patch+yaml"),
        Some(body.as_bytes()),
    );
    unnamed.expect(400, Some("BadRequest"));
    // A missing object is created by an apply.
    let fresh = api.request(
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/fresh?fieldManager=ci",
        Some("application/apply-patch+yaml"),
        Some(body.replace("name: web\n", "name: fresh\n").as_bytes()),
    );
    fresh.expect(201, None);
    assert_eq!(managers(&deploy(&c, "fresh")), [pair("ci", "Apply")]);
}
