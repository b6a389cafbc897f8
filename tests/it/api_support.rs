//! For the API tests: a real `jube daemon` in a sealed env, and plain HTTP calls to it.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Child, TestEnv, wait_until};

/// An image no repository has: pods of it stay Pending, so the reconciler leaves them alone.
pub const ABSENT_IMAGE: &str = "example/absent:1.0";

/// A daemon started by the jube binary, and a client for its API.
pub struct Api {
    pub env: TestEnv,
    daemon: Option<Child>,
    pub base: String,
    http: reqwest::blocking::Client,
}

/// How to start the daemon: extra arguments after `jube daemon`, and the bearer token the API
/// client sends (the one in the daemon's token file).
#[derive(Default)]
pub struct Launch<'a> {
    pub args: &'a [&'a str],
    pub token: Option<&'a str>,
}

/// A response: its code, its JSON (or text, as a JSON string) and its headers.
#[derive(Debug)]
pub struct Answer {
    pub code: u16,
    pub body: Value,
    pub warnings: Vec<String>,
    pub content_type: String,
}

impl Answer {
    /// Asserts the code, and for failures the `Status` reason; returns the body.
    #[track_caller]
    pub fn expect(&self, code: u16, reason: Option<&str>) -> &Value {
        assert_eq!(self.code, code, "unexpected answer: {}", self.body);
        if let Some(reason) = reason {
            assert_eq!(self.body["kind"], "Status", "{}", self.body);
            assert_eq!(self.body["reason"], reason, "{}", self.body);
            assert_eq!(self.body["code"], code, "{}", self.body);
            assert_eq!(self.body["status"], "Failure", "{}", self.body);
        }
        &self.body
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

impl Api {
    pub fn start() -> Self {
        Self::start_in(TestEnv::new())
    }

    /// Starts `jube daemon` on a free port of 127.0.0.1 and waits until it answers.
    pub fn start_in(env: TestEnv) -> Self {
        Self::launch(env, &Launch::default())
    }

    /// Starts `jube daemon ARGS` (on a free port of 127.0.0.1 unless ARGS say `--listen`) and
    /// waits until it answers the client, which sends `launch.token`.
    pub fn launch(env: TestEnv, launch: &Launch) -> Self {
        let mut daemon = env
            .jube()
            .args(["daemon"])
            .args(launch.args)
            .env("JUBE_DAEMON_LISTEN", "127.0.0.1:0")
            .env("JUBE_BACKOFF_BASE", "0.2")
            .timeout(Duration::from_secs(300))
            .spawn();
        let addr_file = env.home().join("daemon.addr");
        wait_until("the daemon's address file", Duration::from_secs(30), || {
            assert!(
                daemon.is_running(),
                "the daemon exited: {}",
                daemon.stderr_so_far()
            );
            std::fs::read_to_string(&addr_file).is_ok_and(|a| !a.trim().is_empty())
        });
        let addr = std::fs::read_to_string(&addr_file).expect("read daemon.addr");
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = launch.token {
            let bearer = format!("Bearer {token}");
            headers.insert("authorization", bearer.parse().expect("a header value"));
        }
        let mut http = reqwest::blocking::Client::builder()
            .no_proxy()
            .default_headers(headers)
            .timeout(None);
        // A daemon with a token serves HTTPS with the certificate it records.
        let mut scheme = "http";
        if launch.token.is_some() {
            let pem = std::fs::read(env.home().join("daemon.crt")).expect("the daemon's certificate");
            let cert = reqwest::Certificate::from_pem(&pem).expect("a PEM certificate");
            http = http.tls_certs_only([cert]);
            scheme = "https";
        }
        let api = Self {
            env,
            daemon: Some(daemon),
            base: format!("{scheme}://{}", addr.trim()),
            http: http.build().expect("an HTTP client"),
        };
        wait_until("the daemon's /healthz", Duration::from_secs(30), || {
            api.http
                .get(api.url("/healthz"))
                .send()
                .is_ok_and(|r| r.status().is_success())
        });
        api
    }

    /// The client the API is called with, for threads of a test's own (it carries the token).
    pub fn client(&self) -> reqwest::blocking::Client {
        self.http.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Option<&[u8]>,
    ) -> Answer {
        let headers: Vec<(&str, &str)> = content_type.map(|ct| ("Content-Type", ct)).into_iter().collect();
        self.request_with(method, path, &headers, body)
    }

    /// A request with exactly these extra headers (`Host`, `Origin`, `Authorization` replace
    /// what the client would send).
    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut req = self.http.request(method.clone(), self.url(path));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.body(body.to_vec());
        }
        let resp = req.send().unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let code = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().expect("the answer's body");
        Answer {
            code,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            warnings: headers
                .get_all("warning")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::to_owned)
                .collect(),
            content_type: headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
        }
    }

    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.request(method, path, Some("application/json"), bytes.as_deref())
    }

    pub fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Answer {
        self.call("POST", path, Some(body))
    }

    pub fn put(&self, path: &str, body: &Value) -> Answer {
        self.call("PUT", path, Some(body))
    }

    pub fn delete(&self, path: &str) -> Answer {
        self.call("DELETE", path, None)
    }

    pub fn patch(&self, path: &str, content_type: &str, body: &Value) -> Answer {
        self.request(
            "PATCH",
            path,
            Some(content_type),
            Some(body.to_string().as_bytes()),
        )
    }

    /// Creates an object in its collection and returns what the API stored.
    #[track_caller]
    pub fn create(&self, collection: &str, object: &Value) -> Value {
        let answer = self.post(collection, object);
        answer.expect(201, None).clone()
    }

    /// A streaming GET, read line by line.
    pub fn stream(&self, path: &str) -> Lines {
        let resp = self.http.get(self.url(path)).send().expect("a streaming GET");
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        Lines {
            reader: BufReader::new(resp),
        }
    }

    /// Whether the daemon process still runs.
    pub fn daemon_is_running(&mut self) -> bool {
        self.daemon.as_mut().is_some_and(Child::is_running)
    }

    /// `jube daemon stop --stop-pods`, then waits for the daemon to exit; returns the env, for
    /// what a test checks after.
    pub fn stop(mut self) -> TestEnv {
        self.env.jube().args(["daemon", "stop", "--stop-pods"]).success();
        if let Some(daemon) = self.daemon.take() {
            let out = daemon.wait();
            assert_eq!(out.code, Some(0), "{out}");
        }
        self.env
    }
}

/// A stream of lines (watch events, followed logs).
pub struct Lines {
    reader: BufReader<reqwest::blocking::Response>,
}

impl Lines {
    /// The next line, or `None` at the end of the stream.
    pub fn next_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(line.trim_end_matches('\n').to_owned()),
            Err(e) => panic!("reading the stream: {e}"),
        }
    }

    /// The next watch event as `(type, object)`.
    #[track_caller]
    pub fn next_event(&mut self) -> (String, Value) {
        let line = self.next_line().expect("another watch event");
        let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
        (
            event["type"].as_str().unwrap_or_default().to_owned(),
            event["object"].clone(),
        )
    }
}

pub fn pod(name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": ABSENT_IMAGE}]},
    })
}

pub fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

pub fn service(name: &str, selector: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}]},
    })
}

/// An RC whose pods cannot start (absent image): replicas it asks for stay Pending.
pub fn rc(name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ReplicationController",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"app": name},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": ABSENT_IMAGE}]},
            },
        },
    })
}

pub fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}
