//! `jube apply -f`: creates, then `unchanged` or `configured` as kubectl says, keeping the
//! last-applied annotation; files, folders, stdin; `-n`; warnings; malformed manifests stop the
//! whole apply before anything is stored.

use crate::kubectl_like::{DEV, Kube, pod, web};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

#[test]
fn apply_creates_then_leaves_unchanged_then_configures_what_changed() {
    let k = Kube::new();
    let app = k.write("app.yaml", &format!("{DEV}---\n{}", web(2)));
    let out = k.apply(&app);
    assert_eq!(
        out.stdout, "namespace/dev created\nreplicationcontroller/web created\nservice/web created\n",
        "{out}"
    );
    assert!(k.daemon_addr().exists(), "apply started the daemon");
    let rc = k.json(&["rc", "web"]);
    let applied: serde_json::Value = serde_json::from_str(
        rc["metadata"]["annotations"][LAST_APPLIED]
            .as_str()
            .expect("annotation"),
    )
    .expect("the annotation is JSON");
    assert_eq!(applied["spec"]["replicas"], 2, "{applied}");
    assert_eq!(applied["metadata"]["namespace"], "default", "{applied}");
    // The daemon keeps writing the RC's status; the namespace it leaves alone.
    let ns_version = k.json(&["ns", "dev"])["metadata"]["resourceVersion"].clone();
    assert_eq!(rc["metadata"]["generation"], 1, "{rc}");

    let out = k.apply(&app);
    assert_eq!(
        out.stdout, "namespace/dev unchanged\nreplicationcontroller/web unchanged\nservice/web unchanged\n",
        "{out}"
    );
    assert_eq!(
        k.json(&["ns", "dev"])["metadata"]["resourceVersion"],
        ns_version,
        "nothing written"
    );
    let again = k.json(&["rc", "web"]);
    assert_eq!(
        again["metadata"]["generation"], 1,
        "the spec was not written\n{again}"
    );
    assert_eq!(again["metadata"]["annotations"], rc["metadata"]["annotations"]);

    k.write(
        "app.yaml",
        &format!("{DEV}---\n{}", web(3).replace("value: beat", "value: tock")),
    );
    let out = k.apply(&app);
    assert_eq!(
        out.stdout, "namespace/dev unchanged\nreplicationcontroller/web configured\nservice/web unchanged\n",
        "{out}"
    );
    let rc = k.json(&["rc", "web"]);
    assert_eq!(rc["spec"]["replicas"], 3);
    assert_eq!(rc["metadata"]["generation"], 2, "{rc}");
    assert_eq!(
        rc["spec"]["template"]["spec"]["containers"][0]["env"][1]["value"], "tock",
        "{rc}"
    );
}

#[test]
fn apply_keeps_what_others_set_and_puts_back_what_the_file_says() {
    let k = Kube::new();
    // No replicas in the file: `jube scale` owns them, and apply leaves them.
    let unset = k.write("unset.yaml", &web(1).replace("  replicas: 1\n", ""));
    k.apply(&unset);
    k.jube().args(["scale", "rc/web", "--replicas", "4"]).success();
    let out = k.apply(&unset);
    out.stdout_contains("replicationcontroller/web unchanged");
    assert_eq!(k.json(&["rc", "web"])["spec"]["replicas"], 4);

    // Replicas in the file: apply puts them back, as kubectl does.
    let set = k.write("set.yaml", &web(2));
    k.apply(&set)
        .stdout_contains("replicationcontroller/web configured");
    k.jube().args(["scale", "rc/web", "--replicas", "5"]).success();
    k.apply(&set)
        .stdout_contains("replicationcontroller/web configured");
    assert_eq!(k.json(&["rc", "web"])["spec"]["replicas"], 2);

    // A label dropped from the file is removed; one set by someone else stays.
    let labelled = k.write(
        "labelled.yaml",
        &web(2).replacen("    app: web\nspec", "    app: web\n    tier: front\nspec", 1),
    );
    k.apply(&labelled)
        .stdout_contains("replicationcontroller/web configured");
    assert_eq!(k.json(&["rc", "web"])["metadata"]["labels"]["tier"], "front");
    k.apply(&set)
        .stdout_contains("replicationcontroller/web configured");
    let labels = k.json(&["rc", "web"])["metadata"]["labels"].clone();
    assert_eq!(labels, serde_json::json!({"app": "web"}), "tier removed");
}

#[test]
fn apply_reads_folders_recursively_and_stdin() {
    let k = Kube::new();
    k.write("app/ns.yaml", DEV);
    k.write("app/pods/a.json", r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"main","image":"fabric8/ticker"}]}}"#);
    k.write("app/notes.txt", "not a manifest");
    let dir = k.env.root().join("app");
    let out = k.jube().arg("apply").arg("-f").arg(&dir).success();
    assert_eq!(
        out.stdout, "namespace/dev created\n",
        "without -R only the folder itself\n{out}"
    );
    let out = k.jube().arg("apply").arg("-R").arg("-f").arg(&dir).success();
    assert_eq!(out.stdout, "namespace/dev unchanged\npod/a created\n", "{out}");

    let list = r#"{"apiVersion":"v1","kind":"List","items":[
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"b","namespace":"dev"},"spec":{"containers":[{"name":"main","image":"fabric8/ticker"}]}}]}"#;
    let out = k.jube().args(["apply", "-f", "-"]).stdin(list).success();
    assert_eq!(out.stdout, "pod/b created\n", "{out}");
    assert_eq!(k.names(&["pods", "-n", "dev"]), ["b"]);
}

#[test]
fn apply_namespace_flag_fills_in_and_conflicts_are_refused_before_anything_is_sent() {
    let k = Kube::new();
    k.apply(&k.write("ns.yaml", DEV));
    let mixed = k.write(
        "mixed.yaml",
        &format!(
            "{}---\n{}",
            pod("x", "dev", "app: x").replace("  namespace: dev\n", ""),
            pod("y", "prod", "app: y")
        ),
    );
    let out = k
        .jube()
        .arg("apply")
        .arg("-n")
        .arg("dev")
        .arg("-f")
        .arg(&mixed)
        .code(1);
    out.stderr_contains(
        "document 2: the namespace from the provided object \"prod\" does not match the namespace \"dev\"",
    )
    .stderr_contains("--namespace=prod");
    assert_eq!(out.stdout, "", "{out}");
    assert!(
        k.names(&["pods", "-A"]).is_empty(),
        "nothing of that apply is stored"
    );

    let only_x = k.write(
        "x.yaml",
        &pod("x", "dev", "app: x").replace("  namespace: dev\n", ""),
    );
    let out = k
        .jube()
        .arg("apply")
        .arg("-n")
        .arg("dev")
        .arg("-f")
        .arg(&only_x)
        .success();
    assert_eq!(out.stdout, "pod/x created\n", "{out}");
    assert_eq!(k.names(&["pods", "-n", "dev"]), ["x"]);
    assert!(k.names(&["pods"]).is_empty());

    // A namespace that does not exist: kubectl's error, naming the file; the others still apply.
    let missing = k.write(
        "missing.yaml",
        &format!(
            "{}---\n{}",
            pod("y", "prod", "app: y"),
            pod("z", "default", "app: z")
        ),
    );
    let out = k.jube().arg("apply").arg("-f").arg(&missing).code(1);
    out.stderr_contains(&format!(
        "Error from server (NotFound): error when creating \"{}\": namespaces \"prod\" not found",
        missing.display()
    ));
    assert_eq!(out.stdout, "pod/z created\n", "{out}");
}

#[test]
fn apply_of_a_malformed_document_names_it_and_stores_nothing() {
    let k = Kube::new();
    k.apply(&k.write("ns.yaml", DEV));
    let bad = k.write(
        "bad.yaml",
        &format!(
            "{}---\n{}",
            web(1),
            pod("p", "dev", "app: p").replace("image: fabric8/ticker", "image: [1, 2]")
        ),
    );
    let out = k.jube().arg("apply").arg("-f").arg(&bad).code(1);
    out.stderr_contains(&format!("{}, document 3", bad.display()))
        .stderr_contains("spec.containers[0].image");
    assert_eq!(out.stdout, "", "{out}");
    assert!(k.names(&["rc"]).is_empty(), "document 1 was not stored either");
    assert!(k.names(&["svc"]).is_empty());

    let yaml = k.write("broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n");
    k.jube()
        .arg("apply")
        .arg("-f")
        .arg(&yaml)
        .code(1)
        .stderr_contains("malformed YAML");
    let missing = k.env.root().join("nope.yaml");
    k.jube()
        .arg("apply")
        .arg("-f")
        .arg(&missing)
        .code(1)
        .stderr_contains("nope.yaml");
    k.jube().args(["apply"]).code(2).stderr_contains("-f");
}

#[test]
fn apply_warns_about_what_jube_does_not_handle_and_applies_the_rest() {
    let k = Kube::new();
    let app = k.write(
        "app.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: api\n---\n{}",
            web(1).replace(
                "        ports:\n",
                "        resources:\n          limits:\n            cpu: 1\n        ports:\n"
            )
        ),
    );
    let out = k.apply(&app);
    out.stderr_contains("Warning: ")
        .stderr_contains("kind StatefulSet (apps/v1) is not handled by jube yet; skipped")
        .stderr_contains("spec.template.spec.containers[0].resources is ignored by jube");
    assert_eq!(
        out.stdout, "replicationcontroller/web created\nservice/web created\n",
        "{out}"
    );
}

#[test]
fn apply_adopts_objects_created_without_it() {
    let k = Kube::new();
    k.apply(&k.write("ns.yaml", DEV));
    // Created through the API directly (as `kubectl create` would), so without the annotation.
    let addr = std::fs::read_to_string(k.daemon_addr()).expect("daemon.addr");
    let body = r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"made"}}"#;
    k.env
        .command("curl")
        .args([
            "-sf",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
        ])
        .arg(format!("http://{}/api/v1/namespaces", addr.trim()))
        .success();
    let ns = k.write(
        "made.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: made\n",
    );
    let out = k.apply(&ns);
    out.stdout_contains("namespace/made configured")
        .stderr_contains("missing the kubectl.kubernetes.io/last-applied-configuration annotation");
    k.apply(&ns).stdout_contains("namespace/made unchanged");
}

/// A manifest apply refuses: exit 1, an error with every needle, nothing printed as applied.
#[track_caller]
fn refused(k: &Kube, file: &std::path::Path, needles: &[&str]) {
    let out = k.jube().arg("apply").arg("-f").arg(file).code(1);
    for needle in needles {
        out.stderr_contains(needle);
    }
    assert_eq!(out.stdout, "", "{out}");
}

#[test]
fn apply_refuses_wrong_types_bad_names_huge_files_and_alias_bombs_and_stores_nothing() {
    let k = Kube::new();
    k.apply(&k.write("ns.yaml", DEV));
    let wrong_type = k.write(
        "three.yaml",
        &web(1).replace("replicas: 1", "replicas: \"three\""),
    );
    refused(&k, &wrong_type, &["three.yaml, document 1", "spec.replicas"]);
    let not_a_map = k.write("list.yaml", "apiVersion: v1\nkind: Pod\nmetadata: [a, b]\n");
    refused(&k, &not_a_map, &["list.yaml, document 1", "metadata"]);

    let long_label = "a".repeat(64);
    let long_name = format!("{}.x", "a".repeat(252));
    let cases = [
        (
            "upper.yaml",
            pod("Web", "dev", "app: p"),
            "`Web` is not a valid name",
        ),
        (
            "underscore.yaml",
            pod("my_app", "dev", "app: p"),
            "`my_app` is not a valid name",
        ),
        (
            "long-name.yaml",
            pod(&long_name, "dev", "app: p"),
            "is not a valid name",
        ),
        (
            "long-ns.yaml",
            DEV.replace("name: dev", &format!("name: {long_label}")),
            "must be at most 63 characters",
        ),
        (
            "service.yaml",
            web(1).replace(
                "kind: Service\nmetadata:\n  name: web",
                "kind: Service\nmetadata:\n  name: 9web",
            ),
            "must start with a letter",
        ),
    ];
    for (file, text, needle) in cases {
        let path = k.write(file, &text);
        refused(&k, &path, &["metadata.name", needle]);
    }

    // A YAML alias bomb: each level names the one below nine times.
    let mut bomb =
        String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n  a0: &a0 \"lol\"\n");
    for i in 1..12 {
        bomb += &format!("  a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 9].join(", "));
    }
    let bomb = k.write("bomb.yaml", &bomb);
    let out = k.jube().arg("apply").arg("-f").arg(&bomb).code(1);
    out.stderr_contains("bomb.yaml, document 1: malformed YAML: repetition limit exceeded");
    assert!(out.stderr.len() < 10_000, "a short error\n{out}");

    // Larger than any real manifest: refused before it is parsed, from a file or from stdin.
    let mut huge = web(1);
    huge += "---\n# padding\n";
    huge += &"# x\n".repeat(3 << 20);
    let path = k.write("huge.yaml", &huge);
    refused(&k, &path, &["huge.yaml is larger than the 8 MiB", "split it"]);
    let out = k.jube().args(["apply", "-f", "-"]).stdin(huge).code(1);
    out.stderr_contains("stdin is larger than the 8 MiB");

    assert!(k.names(&["pods", "-n", "dev"]).is_empty());
    assert!(k.names(&["rc"]).is_empty());
    assert!(k.names(&["svc"]).is_empty());
    assert_eq!(k.names(&["ns"]).iter().filter(|n| n.len() > 60).count(), 0);
}
