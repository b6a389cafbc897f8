//! `jube get`, `delete`, `scale` and `logs` of pods, against a real daemon that `jube apply`
//! starts, as kubectl users expect them: columns, output formats, selectors, messages, exit codes.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::common::{Cmd, Out, TestEnv, wait_until};

/// How long the daemon gets to bring pods up or down.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A test environment whose daemon (started by the first `apply`) listens on a free port and
/// is stopped, pods and all, when the test ends.
pub struct Kube {
    pub env: TestEnv,
}

impl Kube {
    pub fn new() -> Self {
        let mut env = TestEnv::new();
        env.set_env("JUBE_DAEMON_LISTEN", "127.0.0.1:0");
        env.set_env("JUBE_BACKOFF_BASE", "0.2");
        Self { env }
    }

    pub fn jube(&self) -> Cmd {
        self.env.jube()
    }

    /// Writes a manifest file under the test's folder.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.env.root().join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create the manifest folder");
        }
        std::fs::write(&path, text).expect("write the manifest");
        path
    }

    /// `jube apply -f FILE`, asserting success.
    #[track_caller]
    pub fn apply(&self, file: &PathBuf) -> Out {
        self.jube().arg("apply").arg("-f").arg(file).success()
    }

    /// `jube get ... -o json`, parsed.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.jube().arg("get").args(args).args(["-o", "json"]).success();
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{out}"))
    }

    /// The names of the pods matching `selector` whose Ready condition is True.
    pub fn ready_pods(&self, selector: &str) -> Vec<String> {
        self.json(&["pods", "-l", selector])["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| {
                p["status"]["conditions"]
                    .as_array()
                    .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
            })
            .map(|p| p["metadata"]["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Where the proxies of `service` listen, as the daemon records them in the service's status.
    pub fn proxy_ports(&self, service: &str) -> Vec<u16> {
        self.json(&["svc", service])["status"]["loadBalancer"]["ingress"][0]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["port"].as_u64().and_then(|p| u16::try_from(p).ok()))
            .collect()
    }

    /// The names of the items of `jube get KIND -o json`.
    #[track_caller]
    pub fn names(&self, args: &[&str]) -> Vec<String> {
        self.json(args)["items"]
            .as_array()
            .expect("a List")
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub fn daemon_addr(&self) -> PathBuf {
        self.env.home().join("daemon.addr")
    }
}

impl Drop for Kube {
    fn drop(&mut self) {
        if self.daemon_addr().exists() {
            let _ = self
                .jube()
                .args(["daemon", "stop", "--stop-pods"])
                .timeout(Duration::from_secs(120))
                .output();
        }
    }
}

/// A replication controller of ticker pods, its service, in `default`.
pub fn web(replicas: u32) -> String {
    format!(
        "apiVersion: v1
kind: ReplicationController
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: {replicas}
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
          value: beat
        ports:
        - name: ticker
          containerPort: 9000
---
apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 9000
"
    )
}

pub const DEV: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: dev
";

/// A pod in `ns` with one ticker container.
pub fn pod(name: &str, ns: &str, labels: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {ns}
  labels: {{{labels}}}
spec:
  containers:
  - name: main
    image: fabric8/ticker
    env:
    - name: TICK_INTERVAL
      value: \"0.2\"
"
    )
}

/// The header line of a table, split into columns.
fn header(out: &Out) -> Vec<String> {
    let line = out
        .stdout
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no header\n{out}"));
    columns(line)
}

/// Cells of a table line (separated by at least two spaces, as `PORT(S)` cells have none).
fn columns(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

fn row(out: &Out, first: &str) -> Vec<String> {
    let line = out
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(first))
        .unwrap_or_else(|| panic!("no row for {first}\n{out}"));
    columns(line)
}

#[test]
fn get_prints_kubectl_tables_for_each_kind() {
    let k = Kube::new();
    let app = k.write("app.yaml", &format!("{DEV}---\n{}", web(2)));
    k.apply(&app);

    let out = k.jube().args(["get", "rc"]).success();
    assert_eq!(
        header(&out),
        ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        "{out}"
    );
    let web_row = row(&out, "web");
    assert_eq!(web_row[1], "2", "{out}");
    assert!(
        web_row[4].ends_with('s') || web_row[4].ends_with('m'),
        "AGE like 5s\n{out}"
    );

    let out = k
        .jube()
        .args(["get", "replicationcontrollers", "-o", "wide"])
        .success();
    assert_eq!(
        header(&out),
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
        "{out}"
    );
    assert_eq!(
        &row(&out, "web")[5..],
        ["ticker", "fabric8/ticker", "app=web"],
        "{out}"
    );

    let out = k.jube().args(["get", "svc"]).success();
    assert_eq!(
        header(&out),
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        "{out}"
    );
    let svc = row(&out, "web");
    assert_eq!(svc[1], "ClusterIP", "{out}");
    assert!(svc[4].starts_with("80") && svc[4].ends_with("/TCP"), "{out}");
    let out = k.jube().args(["get", "services", "web", "-o", "wide"]).success();
    assert_eq!(header(&out).last().map(String::as_str), Some("SELECTOR"), "{out}");
    assert_eq!(
        row(&out, "web").last().map(String::as_str),
        Some("app=web"),
        "{out}"
    );

    let out = k.jube().args(["get", "ns"]).success();
    assert_eq!(header(&out), ["NAME", "STATUS", "AGE"], "{out}");
    assert_eq!(row(&out, "dev")[1], "Active", "{out}");
    assert_eq!(row(&out, "default")[1], "Active", "{out}");

    // -A puts the namespace first; all lists every kind with kind/name names.
    let out = k.jube().args(["get", "svc", "-A"]).success();
    assert_eq!(header(&out)[0], "NAMESPACE", "{out}");
    assert_eq!(row(&out, "default")[1], "web", "{out}");
    let out = k.jube().args(["get", "all"]).success();
    out.stdout_contains("replicationcontroller/web")
        .stdout_contains("service/web");
    let out = k
        .jube()
        .args(["get", "rc/web", "svc/web", "--show-labels"])
        .success();
    assert_eq!(
        row(&out, "replicationcontroller/web").last().map(String::as_str),
        Some("app=web"),
        "{out}"
    );
    assert!(
        out.stdout.contains("\n\nNAME"),
        "a blank line between the kinds\n{out}"
    );
    let out = k.jube().args(["get", "rc", "--no-headers"]).success();
    assert!(out.stdout.starts_with("web "), "{out}");
}

#[test]
fn get_output_formats_are_kubectls() {
    let k = Kube::new();
    let app = k.write("app.yaml", &web(1));
    k.apply(&app);

    let list = k.json(&["rc"]);
    assert_eq!(list["kind"], "List", "{list}");
    assert_eq!(list["apiVersion"], "v1");
    assert_eq!(list["items"][0]["kind"], "ReplicationController", "{list}");
    assert_eq!(list["items"][0]["metadata"]["name"], "web");

    let one = k.json(&["rc", "web"]);
    assert_eq!(
        one["kind"], "ReplicationController",
        "one name: the object itself\n{one}"
    );
    assert_eq!(one["spec"]["replicas"], 1);
    assert!(one["metadata"]["resourceVersion"].is_string(), "{one}");

    let two = k.json(&["rc/web", "svc/web"]);
    assert_eq!(two["kind"], "List");
    assert_eq!(two["items"].as_array().map(Vec::len), Some(2), "{two}");

    let out = k.jube().args(["get", "svc", "web", "-o", "yaml"]).success();
    out.stdout_contains("kind: Service\n")
        .stdout_contains("  name: web\n");
    let out = k.jube().args(["get", "all", "-o", "yaml"]).success();
    out.stdout_contains("kind: List\n")
        .stdout_contains("- apiVersion: v1\n");

    let out = k.jube().args(["get", "rc,svc", "-o", "name"]).success();
    assert_eq!(out.stdout, "replicationcontroller/web\nservice/web\n", "{out}");
    // `--format json`, as every other jube listing spells it.
    let out = k.jube().args(["get", "rc", "web", "--format", "json"]).success();
    let same: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(same["metadata"]["uid"], one["metadata"]["uid"], "{out}");

    // The same objects, read back from the manifest.
    let out = k
        .jube()
        .arg("get")
        .arg("-f")
        .arg(&app)
        .args(["-o", "name"])
        .success();
    assert_eq!(out.stdout, "replicationcontroller/web\nservice/web\n", "{out}");
}

#[test]
fn get_selects_by_label_and_namespace() {
    let k = Kube::new();
    let pods = k.write(
        "pods.yaml",
        &format!(
            "{DEV}---\n{}---\n{}---\n{}",
            pod("a", "default", "app: web, tier: front"),
            pod("b", "default", "app: db"),
            pod("c", "dev", "app: web"),
        ),
    );
    k.apply(&pods);
    assert_eq!(k.names(&["pods"]), ["a", "b"]);
    assert_eq!(k.names(&["pods", "-l", "app=web"]), ["a"]);
    assert_eq!(k.names(&["pods", "-l", "app!=web"]), ["b"]);
    assert_eq!(k.names(&["pods", "-l", "app in (web,db)", "-A"]), ["a", "b", "c"]);
    assert_eq!(k.names(&["pods", "-n", "dev"]), ["c"]);
    assert_eq!(k.names(&["po", "-A", "-l", "app=web"]), ["a", "c"]);

    let out = k.jube().args(["get", "pods", "-l", "app=nothing"]).success();
    assert_eq!(out.stdout, "", "{out}");
    out.stderr_contains("No resources found in default namespace.");
    let out = k.jube().args(["get", "svc", "-n", "dev"]).success();
    out.stderr_contains("No resources found in dev namespace.");
    let out = k.jube().args(["get", "svc", "-A"]).success();
    out.stderr_contains("No resources found");
    // JSON of nothing is still a List.
    let empty = k.json(&["svc"]);
    assert_eq!(empty["items"], serde_json::json!([]), "{empty}");
}

#[test]
fn get_of_a_missing_name_is_kubectls_not_found() {
    let k = Kube::new();
    let app = k.write("app.yaml", &web(1));
    k.apply(&app);
    let out = k.jube().args(["get", "pods", "nope"]).code(1);
    out.stderr_contains("Error from server (NotFound): pods \"nope\" not found");
    assert_eq!(out.stdout, "", "{out}");
    // What exists is still printed; the exit code tells of the rest.
    let out = k.jube().args(["get", "rc", "web", "nope"]).code(1);
    row(&out, "web");
    out.stderr_contains("replicationcontrollers \"nope\" not found");
    k.jube()
        .args(["get", "rc", "nope", "--ignore-not-found"])
        .success();
}

#[test]
fn get_rejects_what_kubectl_rejects() {
    let k = Kube::new();
    let app = k.write("app.yaml", DEV);
    k.apply(&app);
    for (args, message) in [
        (
            &["get", "statefulsets"][..],
            "doesn't have a resource type \"statefulsets\"",
        ),
        (
            &["get", "pods", "a", "-l", "app=web"][..],
            "name cannot be provided when a selector is specified",
        ),
        (
            &["get", "pods", "a", "-A"][..],
            "cannot be retrieved by name across all namespaces",
        ),
        (&["get", "pod/a", "b"][..], "resource/name form"),
        (&["get"][..], "you must specify the type of resource"),
        (&["get", "pods", "-o", "table"][..], "invalid value"),
        (&["get", "all", "-w"][..], "watch is only supported on one kind"),
    ] {
        let out = k.jube().args(args).code(2);
        out.stderr_contains(message);
    }
    let out = k.jube().args(["get", "pods", "-l", "a in (b"]).code(1);
    out.stderr_contains("Error from server (BadRequest)");
}

#[test]
fn commands_without_a_daemon_say_how_to_start_one() {
    let env = TestEnv::new();
    for args in [
        &["get", "pods"][..],
        &["delete", "pod", "a"][..],
        &["scale", "rc/web", "--replicas", "2"][..],
    ] {
        let out = env.jube().args(args).code(1);
        out.stderr_contains("no jube daemon runs")
            .stderr_contains("jube daemon");
    }
    // `jube logs X` of no container, with no daemon to ask about pods: the container's error.
    let out = env.jube().args(["logs", "nothing"]).code(1);
    out.stderr_contains("no such container: nothing");
}

#[test]
fn delete_by_name_by_file_by_label_and_all() {
    let k = Kube::new();
    let pods = k.write(
        "pods.yaml",
        &format!(
            "{}---\n{}---\n{}---\n{}",
            pod("a", "default", "app: web"),
            pod("b", "default", "app: web"),
            pod("c", "default", "app: db"),
            pod("d", "default", "app: db"),
        ),
    );
    k.apply(&pods);
    let out = k.jube().args(["delete", "pod", "a"]).success();
    assert_eq!(out.stdout, "pod \"a\" deleted\n", "{out}");
    let out = k.jube().args(["delete", "pod", "a"]).code(1);
    out.stderr_contains("Error from server (NotFound): pods \"a\" not found");
    k.jube()
        .args(["delete", "pod", "a", "--ignore-not-found"])
        .success();

    let out = k.jube().args(["delete", "pods", "-l", "app=db"]).success();
    assert_eq!(out.stdout, "pod \"c\" deleted\npod \"d\" deleted\n", "{out}");
    assert_eq!(k.names(&["pods"]), ["b"]);

    let out = k.jube().args(["delete", "pods", "--all"]).success();
    assert_eq!(out.stdout, "pod \"b\" deleted\n", "{out}");
    let out = k.jube().args(["delete", "pods", "--all"]).success();
    out.stderr_contains("No resources found");

    // By file: what is left goes, what is gone is an error naming the file, unless ignored.
    k.apply(&pods);
    k.jube().args(["delete", "pod/d"]).success();
    let out = k.jube().arg("delete").arg("-f").arg(&pods).code(1);
    assert_eq!(
        out.stdout, "pod \"a\" deleted\npod \"b\" deleted\npod \"c\" deleted\n",
        "{out}"
    );
    out.stderr_contains(&format!(
        "Error from server (NotFound): error when deleting \"{}\": pods \"d\" not found",
        pods.display()
    ));
    k.apply(&pods);
    let out = k
        .jube()
        .arg("delete")
        .arg("-f")
        .arg(&pods)
        .arg("--ignore-not-found")
        .success();
    assert_eq!(out.stdout.lines().count(), 4, "{out}");
    assert_eq!(k.names(&["pods"]), Vec::<String>::new());

    // From stdin, as kubectl reads `-f -`.
    k.apply(&pods);
    let out = k
        .jube()
        .args(["delete", "-f", "-"])
        .stdin(pod("b", "default", "app: web"))
        .success();
    assert_eq!(out.stdout, "pod \"b\" deleted\n", "{out}");
    assert_eq!(k.names(&["pods"]), ["a", "c", "d"]);

    for (args, message) in [
        (&["delete"][..], "must provide one or more resources"),
        (&["delete", "pods"][..], "no name was specified"),
        (
            &["delete", "pod", "a", "--all"][..],
            "cannot be given together with --all",
        ),
    ] {
        k.jube().args(args).code(2).stderr_contains(message);
    }
}

#[test]
fn deleting_a_namespace_takes_its_objects() {
    let k = Kube::new();
    let app = k.write("app.yaml", &format!("{DEV}---\n{}", pod("c", "dev", "app: web")));
    k.apply(&app);
    let out = k.jube().args(["delete", "ns", "dev"]).success();
    assert_eq!(out.stdout, "namespace \"dev\" deleted\n", "{out}");
    wait_until("the namespace's pod to go", PATIENCE, || {
        k.names(&["pods", "-A"]).is_empty()
    });
}

#[test]
fn scale_sets_replicas_through_the_api() {
    let k = Kube::new();
    let app = k.write("app.yaml", &web(1));
    k.apply(&app);
    let out = k.jube().args(["scale", "rc/web", "--replicas", "3"]).success();
    assert_eq!(out.stdout, "replicationcontroller/web scaled\n", "{out}");
    assert_eq!(k.json(&["rc", "web"])["spec"]["replicas"], 3);
    k.jube().args(["scale", "rc", "web", "--replicas", "0"]).success();
    assert_eq!(k.json(&["rc", "web"])["spec"]["replicas"], 0);

    let out = k
        .jube()
        .args(["scale", "rc/web", "--replicas", "2", "--current-replicas", "5"])
        .code(1);
    out.stderr_contains("Expected replicas to be 5, was 0");
    assert_eq!(k.json(&["rc", "web"])["spec"]["replicas"], 0);
    k.jube()
        .args(["scale", "rc/web", "--replicas", "2", "--current-replicas", "0"])
        .success();
    assert_eq!(k.json(&["rc", "web"])["spec"]["replicas"], 2);

    let out = k.jube().args(["scale", "rc/nope", "--replicas", "2"]).code(1);
    out.stderr_contains("Error from server (NotFound)")
        .stderr_contains("\"nope\" not found");
    let out = k.jube().args(["scale", "svc/web", "--replicas", "2"]).code(1);
    out.stderr_contains("services \"web\" cannot be scaled: only replicationcontrollers (rc), replicasets (rs) and deployments (deploy) have replicas");
    k.jube().args(["scale", "rc/web"]).code(2);
    k.jube().args(["scale", "rc/web", "--replicas", "-1"]).code(2);
    k.jube()
        .args(["scale", "rc", "--replicas", "1"])
        .code(2)
        .stderr_contains("no name was specified");
}

#[test]
fn regression_a_watch_that_starts_empty_prints_the_header_with_its_first_row() {
    let k = Kube::new();
    k.apply(&k.write("app.yaml", &web(0)));
    let mut rows = k.jube().args(["get", "pods", "-w"]).timeout(PATIENCE * 2).spawn();
    // Whether the pod shows in the listing or in the watch, the header comes once, first.
    k.jube().args(["scale", "rc/web", "--replicas", "1"]).success();
    rows.wait_for_stdout("Running", PATIENCE);
    let out = rows.stdout_so_far();
    let first = out.lines().next().unwrap_or_default();
    assert!(first.starts_with("NAME "), "the header comes first: {out}");
    assert_eq!(out.matches("NAME ").count(), 1, "one header: {out}");
}

#[test]
fn get_watch_prints_a_row_for_each_change_until_the_daemon_stops() {
    let k = Kube::new();
    let app = k.write("app.yaml", &web(1));
    k.apply(&app);
    // Each watch starts at the revision of its listing: once the listing is out, no change is missed.
    let mut rows = k.jube().args(["get", "pods", "-w"]).timeout(PATIENCE * 2).spawn();
    rows.wait_for_stdout("NAME ", PATIENCE);
    let mut names = k
        .jube()
        .args(["get", "rc", "web", "-w", "-o", "name"])
        .timeout(PATIENCE * 2)
        .spawn();
    names.wait_for_stdout("replicationcontroller/web", PATIENCE);
    k.jube().args(["scale", "rc/web", "--replicas", "2"]).success();
    wait_until("a Running row for each of two pods", PATIENCE, || {
        let out = rows.stdout_so_far();
        let running: std::collections::BTreeSet<&str> = out
            .lines()
            .filter(|l| columns(l).get(2).map(String::as_str) == Some("Running"))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        running.len() == 2
    });
    let so_far = rows.stdout_so_far();
    assert_eq!(so_far.matches("NAME ").count(), 1, "one header only\n{so_far}");
    wait_until("the scale's change of the rc", PATIENCE, || {
        names.stdout_so_far().lines().count() >= 2
    });

    // --watch-only: changes, and neither the header nor what was there before.
    let changes = k
        .jube()
        .args(["get", "ns", "--watch-only"])
        .timeout(PATIENCE * 2)
        .spawn();
    let mut round = 0;
    wait_until("a new namespace's row", PATIENCE, || {
        round += 1;
        let ns = k.write(
            &format!("ns-{round}.yaml"),
            &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-{round}\n"),
        );
        k.apply(&ns);
        changes.stdout_so_far().contains("team-")
    });

    k.jube().args(["daemon", "stop", "--stop-pods"]).success();
    let [rows, names, changes] = [rows, names, changes].map(|watch| watch.wait());
    for out in [&rows, &names, &changes] {
        assert_eq!(out.code, Some(0), "each watch ends with the daemon\n{out}");
    }
    assert!(
        names.stdout.lines().all(|l| l == "replicationcontroller/web"),
        "{names}"
    );
    // `--watch-only`: no listing, so the header comes with the first change, as kubectl prints it.
    assert!(
        changes.stdout.starts_with("NAME ")
            && changes.stdout.matches("NAME").count() == 1
            && !changes.stdout.contains("default"),
        "{changes}"
    );
}
