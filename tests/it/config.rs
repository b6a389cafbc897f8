//! Configuration through the real kubectl against a real daemon: ConfigMaps and Secrets made by
//! `kubectl create`, read by an app from its environment and from volume files, a change that
//! reaches the files within the sync period and the environment only after a restart, a missing
//! key that keeps the pod in CreateContainerConfigError, and a secret value that shows nowhere.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::common::fixtures::{self, ZipEntry};
use crate::common::wait_until;
use crate::workloads::Cluster;

const PATIENCE: Duration = Duration::from_secs(60);
const IMAGE: &str = "example/reader";
const SECRET_VALUE: &str = "s3cr3t-Value-4711";

/// Writes what it sees into report.txt every 100 ms: a variable from a ConfigMap, a ConfigMap
/// file, the Secret file's length and a variable from a Secret (by length only).
fn reader_image() -> Vec<u8> {
    fixtures::image_zip(&[ZipEntry::script(
        "run.sh",
        "#!/bin/sh\ncd \"$(dirname \"$0\")\"\nwhile :; do\n  \
         printf 'mode=%s greeting=%s secret_file=%s secret_env=%s pod=%s mount=%s\\n' \"$MODE\" \
         \"$(cat etc/config/greeting 2>/dev/null)\" \"$(wc -c < etc/secret/password 2>/dev/null | tr -d ' ')\" \
         \"${#DB_PASSWORD}\" \"$POD_NAME\" \"$JUBE_MOUNT_CONFIG\" > report.tmp && mv report.tmp report.txt\n  \
         sleep 0.1\ndone\n",
    )])
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: reader
spec:
  replicas: 1
  selector:
    matchLabels: {app: reader}
  template:
    metadata:
      labels: {app: reader}
    spec:
      containers:
      - name: reader
        image: example/reader:1.0
        env:
        - name: MODE
          valueFrom:
            configMapKeyRef: {name: settings, key: MODE}
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef: {name: db, key: password}
        - name: POD_NAME
          valueFrom:
            fieldRef: {fieldPath: metadata.name}
        volumeMounts:
        - {name: config, mountPath: /etc/config}
        - {name: secret, mountPath: /etc/secret, readOnly: true}
      volumes:
      - name: config
        configMap: {name: settings}
      - name: secret
        secret: {secretName: db}
";

/// The report of the one running reader pod, and its pod name.
fn report(cluster: &Cluster) -> Option<(String, String)> {
    let pods = cluster.json(&[
        "pods",
        "-l",
        "app=reader",
        "--field-selector=status.phase=Running",
    ]);
    let items = pods["items"].as_array()?;
    let [pod] = items.as_slice() else { return None };
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        return None;
    }
    let name = pod["metadata"]["name"].as_str()?.to_owned();
    let text = std::fs::read_to_string(app_base(cluster, &name)?.join("report.txt")).ok()?;
    Some((name, text))
}

fn app_base(cluster: &Cluster, pod: &str) -> Option<PathBuf> {
    let out = cluster
        .api
        .env
        .jube()
        .args(["inspect", &format!("k8s_reader_{pod}_default")])
        .output();
    let v: Value = serde_json::from_str(&out.stdout).ok()?;
    v[0]["app_base_path"].as_str().map(PathBuf::from)
}

fn wait_for_report(cluster: &Cluster, what: &str, wanted: impl Fn(&str) -> bool) -> (String, String) {
    let mut last = None;
    wait_until(what, PATIENCE, || {
        last = report(cluster);
        last.as_ref().is_some_and(|(_, text)| wanted(text))
    });
    last.expect("a report")
}

#[test]
fn an_app_reads_config_maps_and_secrets_from_its_environment_and_files() {
    let cluster = Cluster::serving(&[(IMAGE, "1.0", reader_image())]);
    // kubectl's typed create commands send protobuf.
    cluster
        .kubectl()
        .args([
            "create",
            "configmap",
            "settings",
            "--from-literal=MODE=demo",
            "--from-literal=greeting=hello",
        ])
        .success();
    cluster
        .kubectl()
        .args([
            "create",
            "secret",
            "generic",
            "db",
            &format!("--from-literal=password={SECRET_VALUE}"),
        ])
        .success();
    cluster.apply("reader.yaml", DEPLOYMENT);

    let (pod, text) = wait_for_report(&cluster, "the reader's first report", |t| {
        t.contains("greeting=hello")
    });
    let base = app_base(&cluster, &pod).expect("the pod's container");
    let len = SECRET_VALUE.len();
    assert!(
        text.starts_with(&format!(
            "mode=demo greeting=hello secret_file={len} secret_env={len} pod={pod} mount={}",
            base.join("etc/config").display()
        )),
        "{text}"
    );
    let secret_file = std::fs::canonicalize(base.join("etc/secret/password")).unwrap();
    assert_eq!(
        mode(&secret_file) & 0o777,
        0o400,
        "a secret file (0600) mounted read-only"
    );
    assert_eq!(std::fs::read_to_string(&secret_file).unwrap(), SECRET_VALUE);

    // A change reaches the files within the sync period; the environment stays as it was.
    cluster
        .kubectl()
        .args([
            "patch",
            "configmap",
            "settings",
            "-p",
            r#"{"data":{"greeting":"bonjour","MODE":"live"}}"#,
        ])
        .success();
    let (same, text) = wait_for_report(&cluster, "the changed file", |t| t.contains("greeting=bonjour"));
    assert_eq!(same, pod);
    assert!(
        text.starts_with("mode=demo "),
        "the environment keeps its value: {text}"
    );

    // A new pod gets the new environment.
    cluster
        .kubectl()
        .args(["delete", "pod", &pod, "--wait=false"])
        .success();
    let (next, text) = wait_for_report(&cluster, "the next pod's report", |t| t.starts_with("mode=live "));
    assert_ne!(next, pod);
    assert!(text.contains("greeting=bonjour"), "{text}");

    assert_secret_shows_nowhere(&cluster, &next);
}

/// The secret value is in no output, log, process argument or file that others can read.
fn assert_secret_shows_nowhere(cluster: &Cluster, pod: &str) {
    let env = &cluster.api.env;
    let container = format!("k8s_reader_{pod}_default");
    let outputs = [
        cluster.kubectl().args(["get", "secret", "db"]).success(),
        cluster.kubectl().args(["describe", "secret", "db"]).success(),
        cluster.kubectl().args(["describe", "pod", pod]).success(),
        cluster.kubectl().args(["get", "events", "-A"]).output(),
        env.jube().args(["get", "secrets"]).success(),
        env.jube().args(["describe", "secret", "db"]).success(),
        env.jube().args(["inspect", &container]).success(),
        env.jube().args(["ps", "-a"]).success(),
        env.jube().args(["logs", &container]).success(),
    ];
    for out in &outputs {
        out.stdout_lacks(SECRET_VALUE).stderr_lacks(SECRET_VALUE);
    }
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            assert!(
                !String::from_utf8_lossy(&cmdline).contains(SECRET_VALUE),
                "process {:?} has the secret in its arguments",
                entry.file_name()
            );
        }
    }
    let mut holders = Vec::new();
    find_files_holding(env.home(), SECRET_VALUE.as_bytes(), &mut holders);
    assert!(
        !holders.is_empty(),
        "the search must find the secret where it is kept"
    );
    for path in holders {
        assert_eq!(
            mode(&path) & 0o077,
            0,
            "{} holds the secret and is readable by others",
            path.display()
        );
    }
}

fn find_files_holding(dir: &Path, needle: &[u8], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            find_files_holding(&path, needle, out);
        } else if meta.is_file()
            && std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        {
            out.push(path);
        }
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode()
}

#[test]
fn a_missing_config_key_keeps_the_pod_in_create_container_config_error() {
    let cluster = Cluster::serving(&[(IMAGE, "1.0", reader_image())]);
    cluster
        .kubectl()
        .args(["create", "configmap", "settings", "--from-literal=greeting=hello"])
        .success();
    cluster.apply("reader.yaml", DEPLOYMENT);
    let mut waiting = Value::Null;
    wait_until("the pod's config error", PATIENCE, || {
        let pods = cluster.json(&["pods", "-l", "app=reader"]);
        waiting = pods
            .pointer("/items/0/status/containerStatuses/0/state/waiting")
            .cloned()
            .unwrap_or(Value::Null);
        waiting["reason"] == "CreateContainerConfigError"
    });
    assert_eq!(
        waiting["message"], "couldn't find key MODE in ConfigMap default/settings",
        "{waiting}"
    );
    let table = cluster
        .kubectl()
        .args(["get", "pods", "-l", "app=reader"])
        .success();
    table.stdout_contains("CreateContainerConfigError");

    // Once the key is there, the pod starts.
    cluster
        .kubectl()
        .args([
            "patch",
            "configmap",
            "settings",
            "-p",
            r#"{"data":{"MODE":"late"}}"#,
        ])
        .success();
    cluster
        .kubectl()
        .args(["create", "secret", "generic", "db", "--from-literal=password=x"])
        .success();
    wait_for_report(&cluster, "the pod to start", |t| t.starts_with("mode=late "));
}

#[test]
fn kubectl_lists_config_maps_secrets_service_accounts_and_claims() {
    let cluster = Cluster::serving(&[]);
    cluster.apply(
        "objects.yaml",
        "apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: '1', b: '2'}
binaryData: {c: aGk=}
---
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: hunter2}
data: {user: YWRtaW4=}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: runner}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
",
    );
    let cm = cluster.kubectl().args(["get", "cm", "settings"]).success();
    assert!(
        cm.stdout.lines().nth(1).unwrap().split_whitespace().nth(1) == Some("3"),
        "{cm}"
    );
    let secret = cluster.json(&["secret", "db"]);
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(
        secret["data"]["password"], "aHVudGVyMg==",
        "stringData is merged into data"
    );
    assert!(secret.get("stringData").is_none());
    cluster.kubectl().args(["get", "sa", "runner"]).success();
    let pvc = cluster.kubectl().args(["get", "pvc", "data"]).success();
    pvc.stdout_contains("Bound")
        .stdout_contains("1Gi")
        .stdout_contains("RWO");
    let file = cluster.api.env.root().join("app.properties");
    std::fs::write(&file, "mode=demo\n").unwrap();
    cluster
        .kubectl()
        .args(["create", "configmap", "files"])
        .arg(format!("--from-file={}", file.display()))
        .success();
    assert_eq!(
        cluster.json(&["cm", "files"])["data"]["app.properties"],
        "mode=demo\n"
    );
    let bad = cluster
        .kubectl()
        .args(["create", "configmap", "bad", "--from-literal=no/slash=x"])
        .failure();
    bad.stderr_contains("valid config key");
}
