//! The client side of the daemon's API, for jube's own commands: finding the daemon of this
//! JUBE_HOME, starting it in the background when needed, and plain JSON requests. A daemon that
//! requires a bearer token records it in `JUBE_HOME/daemon.token` and serves HTTPS with the
//! certificate in `daemon.crt`: every request then goes over HTTPS trusting that certificate,
//! and sends the token.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client as Http;
use serde_json::Value;

use crate::kube::daemon;
use crate::kube::token::Token;
use crate::layout::Layout;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no jube daemon runs for {home}; start one with `jube daemon` (jube apply starts it for you)")]
    NotRunning { home: PathBuf },
    #[error("the jube daemon did not come up within {secs}s; see {log}")]
    StartTimeout { secs: u64, log: PathBuf },
    #[error("cannot start the jube daemon: {0}")]
    Spawn(std::io::Error),
    #[error(
        "the jube daemon at {addr} refused the token recorded in {} ({message}); put the token of \
         the daemon's --token-file there (mode 0600), or end the daemon (SIGTERM) and start it again",
        recorded.display()
    )]
    Unauthorized {
        addr: String,
        recorded: PathBuf,
        message: String,
    },
    #[error("cannot reach the jube daemon at {addr}: {message}")]
    Transport { addr: String, message: String },
    /// The API answered with a Kubernetes `Status` error.
    #[error("{message}")]
    Api {
        code: u16,
        reason: String,
        message: String,
    },
}

impl ClientError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::Api { code: 404, .. })
    }
}

/// A connection to this JUBE_HOME's daemon.
pub struct Client {
    http: Http,
    base: String,
    addr: String,
}

impl Client {
    /// Connects to the running daemon.
    pub fn connect(layout: &Layout) -> Result<Self, ClientError> {
        let not_running = || ClientError::NotRunning {
            home: layout.home().to_owned(),
        };
        let addr = daemon::recorded_address(layout).ok_or_else(not_running)?;
        let token = daemon::recorded_token(layout);
        let certificate = daemon::recorded_certificate(layout);
        let client = Self::at(&addr, token.as_ref(), certificate.as_deref())?;
        if !daemon::is_running(layout) {
            return Err(not_running());
        }
        let health = client.raw_get("/healthz").map_err(|_| not_running())?;
        if health.status() == reqwest::StatusCode::UNAUTHORIZED {
            let value: Value = health.json().unwrap_or(Value::Null);
            return Err(ClientError::Unauthorized {
                addr,
                recorded: layout.daemon_token(),
                message: value["message"].as_str().unwrap_or("401").to_owned(),
            });
        }
        if !health.status().is_success() {
            return Err(not_running());
        }
        Ok(client)
    }

    /// Connects to the daemon, starting it in the background first when none runs.
    pub fn connect_or_start(layout: &Layout) -> Result<Self, ClientError> {
        if let Ok(c) = Self::connect(layout) {
            return Ok(c);
        }
        spawn_daemon(layout)?;
        let deadline = Instant::now() + START_TIMEOUT;
        let mut pause = Duration::from_millis(5);
        loop {
            if let Ok(c) = Self::connect(layout) {
                return Ok(c);
            }
            if Instant::now() > deadline {
                return Err(ClientError::StartTimeout {
                    secs: START_TIMEOUT.as_secs(),
                    log: layout.daemon_log(),
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    fn at(addr: &str, token: Option<&Token>, certificate: Option<&str>) -> Result<Self, ClientError> {
        let transport = |message: String| ClientError::Transport {
            addr: addr.to_owned(),
            message,
        };
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.as_str()))
                .map_err(|e| transport(e.to_string()))?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        // The API server names the field manager of jube's writes after this (`jube`).
        let mut http = Http::builder()
            .no_proxy()
            .user_agent(concat!("jube/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers);
        if let Some(pem) = certificate {
            let cert =
                reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| transport(e.to_string()))?;
            // Only the daemon's own certificate is trusted, not the platform's authorities.
            http = http.tls_certs_only([cert]);
        }
        let http = http
            .connect_timeout(Duration::from_secs(2))
            .timeout(None)
            .build()
            .map_err(|e| transport(e.to_string()))?;
        Ok(Self {
            http,
            base: format!(
                "{}://{addr}",
                if certificate.is_some() { "https" } else { "http" }
            ),
            addr: addr.to_owned(),
        })
    }

    pub fn address(&self) -> &str {
        &self.addr
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn raw_get(&self, path: &str) -> Result<reqwest::blocking::Response, ClientError> {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .map_err(|e| self.transport(e))
    }

    fn transport(&self, e: reqwest::Error) -> ClientError {
        ClientError::Transport {
            addr: self.addr.clone(),
            message: e.to_string(),
        }
    }

    /// Sends a request with an optional JSON body and returns the JSON answer, turning a
    /// Kubernetes `Status` failure into [`ClientError::Api`].
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(b);
        }
        self.answer(req)
    }

    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.request(reqwest::Method::GET, path, None)
    }

    /// A PATCH with a patch body of the given type (`application/merge-patch+json`, ...).
    pub fn patch(&self, path: &str, content_type: &str, patch: &Value) -> Result<Value, ClientError> {
        let req = self
            .http
            .patch(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(patch.to_string());
        self.answer(req)
    }

    /// Sends a request and reads its JSON answer, or its `Status` failure.
    fn answer(&self, req: reqwest::blocking::RequestBuilder) -> Result<Value, ClientError> {
        let resp = req.send().map_err(|e| self.transport(e))?;
        let status = resp.status();
        let text = resp.text().map_err(|e| self.transport(e))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(value);
        }
        Err(api_error(status, &value))
    }

    /// A streaming GET (logs, watches): the raw response.
    pub fn stream(&self, path: &str) -> Result<reqwest::blocking::Response, ClientError> {
        let resp = self.raw_get(path)?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let value: Value = resp.json().unwrap_or(Value::Null);
        Err(api_error(status, &value))
    }

    /// Asks the daemon to stop and waits until it has released its lock. The POST carries a JSON
    /// body: the API refuses body-less POSTs, which any web page could send.
    pub fn shutdown(&self, layout: &Layout, stop_pods: bool) -> Result<(), ClientError> {
        let path = format!("/jube/v1/shutdown?stopPods={stop_pods}");
        self.request(reqwest::Method::POST, &path, Some(&serde_json::json!({})))?;
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        while daemon::is_running(layout) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

const START_TIMEOUT: Duration = Duration::from_secs(15);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(120);

/// Starts `jube daemon` detached, its output going to daemon.log.
fn spawn_daemon(layout: &Layout) -> Result<(), ClientError> {
    let exe = std::env::current_exe().map_err(ClientError::Spawn)?;
    std::fs::create_dir_all(layout.home()).map_err(ClientError::Spawn)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(layout.daemon_log())
        .map_err(ClientError::Spawn)?;
    let log2 = log.try_clone().map_err(ClientError::Spawn)?;
    let mut cmd = Command::new(exe);
    cmd.arg("daemon")
        .env(crate::env_vars::EnvVars::JUBE_HOME, layout.home())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    crate::container::platform::detach(&mut cmd);
    let mut child = cmd.spawn().map_err(ClientError::Spawn)?;
    // The daemon outlives us; a thread reaps it should it exit while we still run.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

/// A Kubernetes `Status` failure as a [`ClientError::Api`].
fn api_error(status: reqwest::StatusCode, value: &Value) -> ClientError {
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    ClientError::Api {
        code: status.as_u16(),
        reason: text("reason").unwrap_or_default(),
        message: text("message").unwrap_or_else(|| format!("the daemon answered {status}")),
    }
}
