//! The schemas jube serves, through the real kubectl: `kubectl explain` of kinds and fields, and
//! strict field validation that refuses a typo but accepts every object exactly as jube returns
//! it, so that `get -o yaml`, edit, `apply` works.

use std::time::Duration;

use crate::common::wait_until;
use crate::workloads::Cluster;

const PATIENCE: Duration = Duration::from_secs(90);

#[test]
fn kubectl_explain_shows_the_kinds_and_their_fields() {
    let c = Cluster::serving(&[]);
    let explain = |what: &str| c.kubectl().args(["explain", what]).success();
    explain("pods.spec.containers")
        .stdout_contains("KIND:       Pod")
        .stdout_contains("FIELD: containers <[]Container>")
        .stdout_contains("List of containers belonging to the pod.")
        .stdout_contains("livenessProbe\t<Probe>");
    explain("deploy.spec.strategy")
        .stdout_contains("GROUP:      apps")
        .stdout_contains("KIND:       Deployment")
        .stdout_contains("The deployment strategy to use to replace existing pods with new ones.")
        .stdout_contains("rollingUpdate\t<RollingUpdateDeployment>");
    explain("cm")
        .stdout_contains("KIND:       ConfigMap")
        .stdout_contains("ConfigMap holds configuration data for pods to consume.")
        .stdout_contains("data\t<map[string]string>");
    explain("jobs.spec.backoffLimit")
        .stdout_contains("GROUP:      batch")
        .stdout_contains("FIELD: backoffLimit <integer>")
        .stdout_contains("Specifies the number of retries before marking this job failed.");
    explain("svc.status.loadBalancer.ingress.ports")
        .stdout_contains("FIELD: ports <[]PortStatus>")
        .stdout_contains("port\t<integer> -required-");
    let recursive = c.kubectl().args(["explain", "rc.spec", "--recursive"]).success();
    recursive
        .stdout_contains("ReplicationControllerSpec")
        .stdout_contains("      containerPort\t<integer> -required-");
    let missing = c.kubectl().args(["explain", "pods.spec.nosuchfield"]).failure();
    missing.stderr_contains("field \"nosuchfield\" does not exist");
}

/// Objects of every kind jube serves, with running pods, a finished Job and a Service whose
/// proxy listens.
const EVERYTHING: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: sweep
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: conf
data:
  greeting: hi
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: s3cret
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: robot
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Mi
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
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
        image: fabric8/ticker
        ports:
        - name: http
          containerPort: 8080
        env:
        - name: GREETING
          valueFrom:
            configMapKeyRef: {name: conf, key: greeting}
---
apiVersion: v1
kind: ReplicationController
metadata:
  name: ticker
spec:
  replicas: 1
  selector:
    app: ticker
  template:
    metadata:
      labels:
        app: ticker
    spec:
      containers:
      - name: ticker
        image: fabric8/ticker
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: http
  - name: admin
    port: 81
    targetPort: 8080
---
apiVersion: batch/v1
kind: Job
metadata:
  name: once
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: once
        image: fabric8/ticker
        command: [sh, -c, 'echo once']
";

#[test]
fn every_object_jube_returns_passes_strict_validation_and_an_edited_service_applies() {
    let c = Cluster::serving(&[]);
    c.apply("everything.yaml", EVERYTHING);
    c.kubectl()
        .args(["wait", "--for=condition=complete", "job/once", "--timeout=120s"])
        .timeout(Duration::from_secs(150))
        .success();
    wait_until("running pods and the service's proxies", PATIENCE, || {
        let svc = c.json(&["svc", "web"]);
        let pods = c.json(&["pods", "-l", "app in (web,ticker)"]);
        svc.pointer("/status/loadBalancer/ingress/0/ports/1").is_some()
            && pods["items"].as_array().is_some_and(|items| {
                items.len() == 2 && items.iter().all(|p| p["status"]["phase"] == "Running")
            })
    });

    // Everything as jube returns it, sent back whole: kubectl replace validates strictly, so
    // a field of jube's own making that Kubernetes lacks would fail here. One object at a time:
    // kubectl checks a `List` itself, against /openapi/v2, which jube does not serve.
    let names = c.names(&["ns,cm,secrets,sa,pvc,deploy,rs,rc,svc,pods,jobs"]);
    for kind in [
        "namespace/",
        "configmap/",
        "secret/",
        "serviceaccount/",
        "persistentvolumeclaim/",
        "deployment.apps/",
        "replicaset.apps/",
        "replicationcontroller/",
        "service/",
        "pod/",
        "job.batch/",
    ] {
        assert!(names.iter().any(|n| n.starts_with(kind)), "{kind} in {names:?}");
    }
    for name in &names {
        let object = c.kubectl().args(["get", name, "-o", "yaml"]).success();
        c.kubectl()
            .args(["replace", "--dry-run=server", "-f", "-"])
            .stdin(object.stdout.clone())
            .success()
            .stdout_contains(&format!("{name} replaced (server dry run)"));
    }

    // The edit a user makes: get, change, apply, with kubectl's default (strict) validation.
    let svc = c.kubectl().args(["get", "svc", "web", "-o", "yaml"]).success();
    assert!(svc.stdout.contains("app: web"), "{svc}");
    let edited = svc.stdout.replace("app: web", "app: edited");
    c.kubectl()
        .args(["apply", "-f", "-"])
        .stdin(edited)
        .success()
        .stdout_contains("service/web configured");
    assert_eq!(c.json(&["svc", "web"])["spec"]["selector"]["app"], "edited");
    // PORT(S) still reads where each port's proxy listens from the (now standard) status.
    let ports = c.json(&["svc", "web"])["status"]["loadBalancer"]["ingress"][0]["ports"].clone();
    let table = c.kubectl().args(["get", "svc", "web"]).success();
    for (i, service_port) in [80, 81].into_iter().enumerate() {
        let listen = ports[i]["port"].as_i64().expect("a port");
        let shown = if listen == service_port {
            format!("{service_port}/TCP")
        } else {
            format!("{service_port}:{listen}/TCP")
        };
        table.stdout_contains(&shown);
    }
}

#[test]
fn kubectl_apply_of_a_typo_gets_the_strict_decoding_error() {
    let c = Cluster::serving(&[]);
    let typo = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: typo
spec:
  replcas: 2
  selector:
    matchLabels: {app: typo}
  template:
    metadata:
      labels: {app: typo}
    spec:
      containers:
      - name: c
        image: fabric8/ticker
        imagePullPolicyy: Always
";
    let out = c.kubectl().args(["apply", "-f", "-"]).stdin(typo).failure();
    out.stderr_contains(
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error:",
    )
    .stderr_contains("unknown field \"spec.replcas\"")
    .stderr_contains("unknown field \"spec.template.spec.containers[0].imagePullPolicyy\"");
    assert!(c.names(&["deploy"]).is_empty(), "nothing was created");
    // Warn, as asked, creates it and says why.
    c.kubectl()
        .args(["apply", "--validate=warn", "-f", "-"])
        .stdin(typo)
        .success()
        .stderr_contains("unknown field \"spec.replcas\"");
}
