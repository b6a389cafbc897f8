//! The API's front door against a real daemon: what a web page could send (a rebound Host, a
//! foreign Origin, simple bodies, a body-less POST) is refused and changes nothing, while kubectl
//! and jube keep working; beyond loopback a bearer token is required, and `jube kubeconfig`
//! hands it to kubectl.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::api_support::{Api, Launch, names, pod};
use crate::common::{Cmd, TestEnv};

const PODS: &str = "/api/v1/namespaces/default/pods";
const TOKEN: &str = "t0ken-for-tests-0123456789abcdef";

fn port_of(api: &Api) -> &str {
    api.base.rsplit(':').next().expect("a port in the base URL")
}

/// `kubectl` with the given kubeconfig (and nothing of the developer's).
fn kubectl(env: &TestEnv, kubeconfig: &Path) -> Cmd {
    let installed = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok();
    assert!(installed, "kubectl is not installed (apt-get install kubectl)");
    env.command("kubectl")
        .env("KUBECONFIG", kubeconfig)
        .args(["--request-timeout", "30s"])
}

#[test]
fn foreign_hosts_and_origins_are_refused_and_loopback_ones_pass() {
    let api = Api::start();
    let port = port_of(&api).to_owned();
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_owned(),
        format!("localhost.evil.example:{port}"),
    ] {
        let refused = api.request_with("GET", PODS, &[("Host", &host)], None);
        refused.expect(403, Some("Forbidden"));
        assert!(refused.message().contains("DNS rebinding"), "{}", refused.body);
    }
    // Even a path that names nothing is refused first.
    let nowhere = api.request_with("GET", "/nowhere", &[("Host", "evil.example")], None);
    nowhere.expect(403, Some("Forbidden"));
    for host in [
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "127.0.0.2".into(),
    ] {
        let list = api.request_with("GET", PODS, &[("Host", &host)], None);
        assert_eq!(list.expect(200, None)["kind"], "PodList", "{host}");
    }

    for origin in [
        "http://evil.example",
        "null",
        "http://localhost.evil.example:3000",
    ] {
        let refused = api.request_with("GET", PODS, &[("Origin", origin)], None);
        refused.expect(403, Some("Forbidden"));
        assert!(refused.message().contains(origin), "{}", refused.body);
    }
    let local = api.request_with("GET", PODS, &[("Origin", "http://localhost:3000")], None);
    local.expect(200, None);
    // A browser's WebSocket upgrade carries its page's Origin too.
    let upgrade = [
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Origin", "https://evil.example"),
    ];
    let watch = format!("{PODS}?watch=true");
    api.request_with("GET", &watch, &upgrade, None)
        .expect(403, Some("Forbidden"));
    api.stop();
}

#[test]
fn simple_bodies_and_a_bodiless_shutdown_are_refused_and_change_nothing() {
    let mut api = Api::start();
    for (name, content_type) in [
        ("plain", "text/plain"),
        ("plain-charset", "Text/Plain; charset=UTF-8"),
        ("form", "application/x-www-form-urlencoded"),
        ("multipart", "multipart/form-data; boundary=xyz"),
    ] {
        let body = pod(name, json!({})).to_string();
        let refused = api.request("POST", PODS, Some(content_type), Some(body.as_bytes()));
        refused.expect(415, Some("UnsupportedMediaType"));
        assert!(refused.message().contains("application/json"), "{}", refused.body);
    }
    let untyped = pod("untyped", json!({})).to_string();
    api.request_with("POST", PODS, &[], Some(untyped.as_bytes()))
        .expect(415, Some("UnsupportedMediaType"));
    assert_eq!(
        names(&api.get(PODS).body),
        Vec::<String>::new(),
        "nothing was created"
    );

    // The shutdown a web page could send: no body, no type. Refused, by reqwest and by curl.
    let shutdown = "/jube/v1/shutdown?stopPods=true";
    let bodiless = api.request_with("POST", shutdown, &[], None);
    bodiless.expect(400, Some("BadRequest"));
    assert!(bodiless.message().contains("without a body"), "{}", bodiless.body);
    let curl = api
        .env
        .command("curl")
        .args(["-sS", "-X", "POST", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(api.url(shutdown))
        .success();
    assert_eq!(curl.stdout, "400", "{curl}");
    let form = api
        .env
        .command("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-d",
            "stopPods=true",
        ])
        .arg(api.url(shutdown))
        .success();
    assert_eq!(form.stdout, "415", "{form}");
    assert!(
        api.daemon_is_running(),
        "a refused shutdown leaves the daemon running"
    );
    api.get("/healthz").expect(200, None);

    // What kubectl sends keeps working: a DELETE without a body, and patches of each type.
    api.create(PODS, &pod("web", json!({"tier": "a"})));
    for (content_type, patch) in [
        (
            "application/merge-patch+json",
            json!({"metadata": {"labels": {"tier": "b"}}}),
        ),
        (
            "application/strategic-merge-patch+json",
            json!({"metadata": {"labels": {"tier": "c"}}}),
        ),
        (
            "application/json-patch+json",
            json!([{"op": "replace", "path": "/metadata/labels/tier", "value": "d"}]),
        ),
    ] {
        api.patch(&format!("{PODS}/web"), content_type, &patch)
            .expect(200, None);
    }
    let web = api.get(&format!("{PODS}/web"));
    assert_eq!(web.expect(200, None)["metadata"]["labels"]["tier"], "d");
    api.request_with("DELETE", &format!("{PODS}/web"), &[], None)
        .expect(200, None);
    // `jube daemon stop` sends a JSON body, and still stops the daemon.
    api.stop();
}

fn token_file(env: &TestEnv, token: &str) -> PathBuf {
    let path = env.root().join("token");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path
}

#[test]
fn beyond_loopback_the_daemon_needs_a_token_file() {
    let env = TestEnv::new();
    for listen in [&["--listen", "0.0.0.0:0"][..], &[]] {
        let refused = env
            .jube()
            .arg("daemon")
            .args(listen)
            .env("JUBE_DAEMON_LISTEN", "0.0.0.0:0")
            .failure();
        refused
            .stderr_contains("beyond loopback")
            .stderr_contains("--token-file");
    }
    let weak = token_file(&env, "short");
    env.jube()
        .args(["daemon", "--listen", "0.0.0.0:0", "--token-file"])
        .arg(&weak)
        .failure()
        .stderr_contains("at least 16");
    assert!(!env.home().join("daemon.addr").exists());
}

#[test]
fn service_proxies_beyond_loopback_need_expose_services() {
    let env = TestEnv::new();
    env.jube()
        .args(["daemon", "--listen", "127.0.0.1:0", "--address", "0.0.0.0"])
        .failure()
        .stderr_contains("--expose-services");
    let api = Api::launch(
        env,
        &Launch {
            args: &["--address", "0.0.0.0", "--expose-services"],
            token: None,
        },
    );
    api.stop();
}

#[test]
fn a_token_daemon_wants_the_token_and_its_kubeconfig_carries_it() {
    let env = TestEnv::new();
    let file = token_file(&env, TOKEN);
    let file_arg = file.to_str().expect("a UTF-8 path");
    let api = Api::launch(
        env,
        &Launch {
            args: &["--listen", "0.0.0.0:0", "--token-file", file_arg],
            token: Some(TOKEN),
        },
    );
    let recorded = api.env.home().join("daemon.token");
    assert_eq!(std::fs::read_to_string(&recorded).unwrap(), TOKEN);
    assert_eq!(mode(&recorded), 0o600);
    assert!(api.base.starts_with("https://127.0.0.1:"), "{}", api.base);
    // Plain HTTP gets no answer from a TLS server, so a token never travels in clear text.
    let plain = api.base.replace("https://", "http://");
    let cleartext = api
        .env
        .command("curl")
        .args(["-sS", "-m", "10", "-H", &format!("Authorization: Bearer {TOKEN}")])
        .arg(format!("{plain}/api/v1/namespaces"))
        .output();
    assert!(!cleartext.stdout.contains("NamespaceList"), "{cleartext}");

    for authorization in ["", "Bearer wrong-token-0123456789", "Basic dXNlcjpwYXNz"] {
        let refused = api.request_with("GET", PODS, &[("Authorization", authorization)], None);
        refused.expect(401, Some("Unauthorized"));
        assert!(refused.message().contains("jube kubeconfig"), "{}", refused.body);
    }
    api.get(PODS).expect(200, None);
    // curl, trusting the recorded certificate: a 401 names the scheme that would work.
    let headers = api
        .env
        .command("curl")
        .args(["-sS", "-o", "/dev/null", "-D", "-", "--cacert"])
        .arg(api.env.home().join("daemon.crt"))
        .arg(api.url(PODS))
        .success();
    headers
        .stdout_contains(" 401")
        .stdout_contains("www-authenticate: Bearer");
    // Listening on every address, an IP literal names the daemon; a host name still does not.
    let port = port_of(&api).to_owned();
    api.request_with("GET", PODS, &[("Host", &format!("10.1.2.3:{port}"))], None)
        .expect(200, None);
    api.request_with("GET", PODS, &[("Host", &format!("evil.example:{port}"))], None)
        .expect(403, Some("Forbidden"));

    // jube's own client finds the token beside daemon.addr.
    let manifest = api.env.root().join("svc.yaml");
    std::fs::write(&manifest, SERVICE).unwrap();
    api.env.jube().arg("apply").arg("-f").arg(&manifest).success();
    api.env
        .jube()
        .args(["get", "svc"])
        .success()
        .stdout_contains("web");

    // kubectl through the kubeconfig `jube kubeconfig` prints.
    let printed = api.env.jube().arg("kubeconfig").success().stdout;
    let config: Value = serde_norway::from_str(&printed).expect("a YAML kubeconfig");
    assert_eq!(config["current-context"], "jube");
    assert_eq!(config["users"][0]["user"]["token"], TOKEN);
    assert_eq!(config["clusters"][0]["cluster"]["server"], api.base.as_str());
    assert!(config["clusters"][0]["cluster"]["certificate-authority-data"].is_string());
    let kubeconfig = api.env.root().join("kubeconfig");
    std::fs::write(&kubeconfig, &printed).unwrap();
    let k = || kubectl(&api.env, &kubeconfig);
    k().args(["get", "svc", "web", "-o", "name"])
        .success()
        .stdout_contains("service/web");
    for (kind, patch) in [
        ("merge", r#"{"metadata":{"labels":{"tier":"b"}}}"#),
        ("strategic", r#"{"metadata":{"labels":{"tier":"c"}}}"#),
        (
            "json",
            r#"[{"op":"add","path":"/metadata/labels/tier","value":"d"}]"#,
        ),
    ] {
        k().args(["patch", "svc", "web", "--type", kind, "-p", patch])
            .success()
            .stdout_contains("service/web patched");
    }
    k().args(["get", "svc", "-l", "tier=d", "-o", "name"])
        .success()
        .stdout_contains("service/web");
    k().args(["delete", "svc", "web"])
        .success()
        .stdout_contains("service \"web\" deleted");
    k().arg("apply").arg("-f").arg(&manifest).success();

    // A kubeconfig with another token gets kubectl's "logged in" error, and jube's reason.
    let wrong = api.env.root().join("wrong-token");
    std::fs::write(&wrong, printed.replace(TOKEN, "wrong-token-0123456789")).unwrap();
    kubectl(&api.env, &wrong)
        .args(["get", "svc"])
        .failure()
        .stderr_contains("You must be logged in to the server (the bearer token is wrong");

    // --merge keeps what the file had and leaves its current context alone.
    let mine = api.env.root().join("my-kubeconfig");
    std::fs::write(&mine, OTHER_CONFIG).unwrap();
    let merged = api
        .env
        .jube()
        .args(["kubeconfig", "--merge"])
        .env("KUBECONFIG", format!("{}:/nonexistent/second", mine.display()))
        .success();
    merged
        .stderr_contains("added the jube cluster, user and context to")
        .stderr_contains("current-context stays prod");
    assert_eq!(mode(&mine), 0o600);
    let after: Value = serde_norway::from_str(&std::fs::read_to_string(&mine).unwrap()).unwrap();
    assert_eq!(after["current-context"], "prod");
    assert_eq!(after["contexts"][0]["name"], "prod");
    assert_eq!(after["users"][0]["user"]["token"], "prod-token");
    assert_eq!(after["preferences"]["colors"], true);
    kubectl(&api.env, &mine)
        .args(["--context", "jube", "get", "svc", "web", "-o", "name"])
        .success()
        .stdout_contains("service/web");
    let contexts = kubectl(&api.env, &mine)
        .args(["config", "get-contexts", "-o", "name"])
        .success();
    contexts.stdout_contains("prod").stdout_contains("jube");

    // Without KUBECONFIG, ~/.kube/config is created, with jube as its current context.
    let created = api.env.jube().args(["kubeconfig", "--merge"]).success();
    created.stderr_contains("current-context is now jube");
    let home_config = api.env.user_home().join(".kube").join("config");
    kubectl(&api.env, &home_config)
        .args(["get", "svc", "web", "-o", "name"])
        .success()
        .stdout_contains("service/web");

    let env = api.stop();
    assert!(
        !env.home().join("daemon.token").exists(),
        "a stopped daemon removes its token"
    );
    env.jube()
        .arg("kubeconfig")
        .failure()
        .stderr_contains("no jube daemon runs");
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    tier: a
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
";

const OTHER_CONFIG: &str = "apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
users:
- name: prod
  user:
    token: prod-token
contexts:
- name: prod
  context:
    cluster: prod
    user: prod
current-context: prod
preferences:
  colors: true
";
