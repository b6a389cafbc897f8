//! Startup, readiness and liveness probes, as the kubelet runs them: `httpGet`, `tcpSocket`,
//! `exec` and `grpc` handlers, with their delays, periods, timeouts and thresholds.
//!
//! A probed container's [`Health`] is kept here; the controller reads it for the pod's Ready
//! condition (and so for Service endpoints and rollouts), and kills the container when its
//! liveness or startup probe gives up, so that the restart policy takes over.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::container::platform;

/// Which probe of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    Startup,
    Readiness,
    Liveness,
}

impl ProbeKind {
    pub fn title(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Readiness => "Readiness",
            ProbeKind::Liveness => "Liveness",
        }
    }
}

/// What a probe checks.
#[derive(Debug, Clone)]
pub enum Handler {
    Http {
        url: String,
        headers: Vec<(String, String)>,
    },
    Tcp {
        addr: String,
    },
    Exec {
        argv: Vec<String>,
        dir: PathBuf,
    },
    Grpc {
        host: String,
        port: u16,
        service: String,
    },
}

/// One probe with its timing, Kubernetes' defaults filled in.
#[derive(Debug, Clone)]
pub struct Probe {
    pub kind: ProbeKind,
    pub handler: Handler,
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
    /// The probe's own `terminationGracePeriodSeconds`, for a kill it causes.
    pub grace: Option<Duration>,
}

/// The probes of one container.
#[derive(Debug, Clone, Default)]
pub struct ContainerProbes {
    pub startup: Option<Probe>,
    pub readiness: Option<Probe>,
    pub liveness: Option<Probe>,
}

/// What the probes say about a container so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Health {
    /// The startup probe succeeded (or there is none).
    pub started: bool,
    /// The readiness probe's verdict (false until it first succeeds).
    pub ready: bool,
}

/// A probe that gave up: the container is to be killed.
#[derive(Debug, Clone)]
pub struct GaveUp {
    pub kind: ProbeKind,
    pub message: String,
    pub grace: Option<Duration>,
}

impl ContainerProbes {
    /// The probes a container spec declares; `leases` maps container ports to the host ports
    /// jube leased for them, and `app_base` is where `exec` probes run.
    pub fn of(container: &Value, leases: &[(u16, u16)], app_base: &Path) -> Result<Self, String> {
        let probe = |field: &str, kind: ProbeKind| {
            container
                .get(field)
                .filter(|p| p.is_object())
                .map(|p| parse(p, kind, container, leases, app_base))
                .transpose()
        };
        Ok(Self {
            startup: probe("startupProbe", ProbeKind::Startup)?,
            readiness: probe("readinessProbe", ProbeKind::Readiness)?,
            liveness: probe("livenessProbe", ProbeKind::Liveness)?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.startup.is_none() && self.readiness.is_none() && self.liveness.is_none()
    }
}

fn parse(
    p: &Value,
    kind: ProbeKind,
    container: &Value,
    leases: &[(u16, u16)],
    app_base: &Path,
) -> Result<Probe, String> {
    let secs = |field: &str, default: u64, min: u64| {
        Duration::from_secs(p.get(field).and_then(Value::as_u64).unwrap_or(default).max(min))
    };
    let count = |field: &str| {
        p.get(field)
            .and_then(Value::as_u64)
            .map(|n| n.clamp(1, 1000) as u32)
    };
    let host_port = |v: Option<&Value>| -> Result<u16, String> {
        let port = container_port(v, container)?;
        Ok(leases.iter().find(|(c, _)| *c == port).map_or(port, |(_, h)| *h))
    };
    let handler = if let Some(h) = p.get("httpGet") {
        let port = host_port(h.get("port"))?;
        let host = h
            .get("host")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("127.0.0.1");
        let scheme = h
            .get("scheme")
            .and_then(Value::as_str)
            .unwrap_or("HTTP")
            .to_ascii_lowercase();
        let path = h.get("path").and_then(Value::as_str).unwrap_or("/");
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        let headers = h
            .get("httpHeaders")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|h| {
                Some((
                    h.get("name")?.as_str()?.to_owned(),
                    h.get("value")?.as_str()?.to_owned(),
                ))
            })
            .collect();
        Handler::Http {
            url: format!("{scheme}://{host}:{port}{path}"),
            headers,
        }
    } else if let Some(t) = p.get("tcpSocket") {
        let port = host_port(t.get("port"))?;
        let host = t
            .get("host")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("127.0.0.1");
        Handler::Tcp {
            addr: format!("{host}:{port}"),
        }
    } else if let Some(e) = p.get("exec") {
        let argv: Vec<String> = e
            .get("command")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        if argv.is_empty() {
            return Err(format!(
                "{}Probe.exec.command: a command is required",
                lower(kind)
            ));
        }
        Handler::Exec {
            argv,
            dir: app_base.to_path_buf(),
        }
    } else if let Some(g) = p.get("grpc") {
        let port = host_port(g.get("port"))?;
        Handler::Grpc {
            host: "127.0.0.1".into(),
            port,
            service: g
                .get("service")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        }
    } else {
        return Err(format!(
            "{}Probe: one of httpGet, tcpSocket, exec or grpc is required",
            lower(kind)
        ));
    };
    Ok(Probe {
        kind,
        handler,
        initial_delay: secs("initialDelaySeconds", 0, 0),
        period: secs("periodSeconds", 10, 1),
        timeout: secs("timeoutSeconds", 1, 1),
        // Liveness and startup probes must have 1, as the API server insists.
        success_threshold: if kind == ProbeKind::Readiness {
            count("successThreshold").unwrap_or(1)
        } else {
            1
        },
        failure_threshold: count("failureThreshold").unwrap_or(3),
        grace: p
            .get("terminationGracePeriodSeconds")
            .and_then(Value::as_u64)
            .map(Duration::from_secs),
    })
}

fn lower(kind: ProbeKind) -> &'static str {
    match kind {
        ProbeKind::Startup => "startup",
        ProbeKind::Readiness => "readiness",
        ProbeKind::Liveness => "liveness",
    }
}

/// A probe's port: a number, or the name of one of the container's ports.
fn container_port(v: Option<&Value>, container: &Value) -> Result<u16, String> {
    let by_number = |n: u64| u16::try_from(n).ok().filter(|n| *n > 0);
    match v {
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(by_number)
            .ok_or_else(|| format!("port {n} is out of range")),
        Some(Value::String(s)) => match s.parse::<u64>() {
            Ok(n) => by_number(n).ok_or_else(|| format!("port {s} is out of range")),
            Err(_) => container
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|p| p.get("name").and_then(Value::as_str) == Some(s.as_str()))
                .and_then(|p| p.get("containerPort").and_then(Value::as_u64))
                .and_then(by_number)
                .ok_or_else(|| format!("the container declares no port named \"{s}\"")),
        },
        _ => Err("a probe needs a port".into()),
    }
}

/// Runs a container's probes until one gives up, keeping `health` current; `say` is told of each
/// failure streak and each change. Readiness never gives up; a container whose startup or liveness
/// probe never fails is probed until the task is dropped.
pub async fn supervise(
    probes: ContainerProbes,
    health: Arc<Mutex<Health>>,
    say: impl Fn(String) + Send + Sync,
) -> GaveUp {
    let set = |f: &dyn Fn(&mut Health)| f(&mut health.lock().unwrap_or_else(|p| p.into_inner()));
    if let Some(startup) = &probes.startup
        && let Err(gave_up) = until_success(startup, &say).await
    {
        return gave_up;
    }
    set(&|h| h.started = true);
    let readiness = async {
        let Some(probe) = &probes.readiness else {
            return std::future::pending().await;
        };
        tokio::time::sleep(probe.initial_delay).await;
        let (mut successes, mut failures) = (0u32, 0u32);
        let mut ready = false;
        loop {
            match check(probe).await {
                Ok(()) => {
                    successes += 1;
                    failures = 0;
                    if !ready && successes >= probe.success_threshold {
                        ready = true;
                        set(&|h| h.ready = true);
                    }
                }
                Err(message) => {
                    if failures == 0 {
                        say(format!("Readiness probe failed: {message}"));
                    }
                    failures += 1;
                    successes = 0;
                    if ready && failures >= probe.failure_threshold {
                        ready = false;
                        set(&|h| h.ready = false);
                    }
                }
            }
            tokio::time::sleep(probe.period).await;
        }
    };
    let liveness = async {
        match &probes.liveness {
            Some(probe) => match until_failure(probe, &say).await {
                Err(gave_up) => gave_up,
            },
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        gave_up = liveness => gave_up,
        never = readiness => never,
    }
}

/// A startup probe: until it succeeds, or fails `failureThreshold` times in a row.
async fn until_success(probe: &Probe, say: &(impl Fn(String) + Send + Sync)) -> Result<(), GaveUp> {
    tokio::time::sleep(probe.initial_delay).await;
    let mut failures = 0;
    loop {
        match check(probe).await {
            Ok(()) => return Ok(()),
            Err(message) => {
                failures += 1;
                say(format!("{} probe failed: {message}", probe.kind.title()));
                if failures >= probe.failure_threshold {
                    return Err(gave_up(probe, message));
                }
            }
        }
        tokio::time::sleep(probe.period).await;
    }
}

/// A liveness probe: runs until it fails `failureThreshold` times in a row.
async fn until_failure(
    probe: &Probe,
    say: &(impl Fn(String) + Send + Sync),
) -> Result<std::convert::Infallible, GaveUp> {
    tokio::time::sleep(probe.initial_delay).await;
    let mut failures = 0;
    loop {
        match check(probe).await {
            Ok(()) => failures = 0,
            Err(message) => {
                failures += 1;
                say(format!("{} probe failed: {message}", probe.kind.title()));
                if failures >= probe.failure_threshold {
                    return Err(gave_up(probe, message));
                }
            }
        }
        tokio::time::sleep(probe.period).await;
    }
}

fn gave_up(probe: &Probe, message: String) -> GaveUp {
    GaveUp {
        kind: probe.kind,
        message,
        grace: probe.grace,
    }
}

/// One run of a probe's handler within its timeout; the error says why it failed.
pub async fn check(probe: &Probe) -> Result<(), String> {
    match tokio::time::timeout(probe.timeout, run_handler(&probe.handler, probe.timeout)).await {
        Ok(result) => result,
        Err(_) => Err(format!("timeout: no answer within {}s", probe.timeout.as_secs())),
    }
}

async fn run_handler(handler: &Handler, timeout: Duration) -> Result<(), String> {
    match handler {
        Handler::Http { url, headers } => {
            let client = reqwest::Client::builder()
                .timeout(timeout)
                .danger_accept_invalid_certs(true)
                .no_proxy()
                .build()
                .map_err(|e| e.to_string())?;
            let mut request = client
                .get(url)
                .header("User-Agent", "kube-probe/1.32")
                .header("Accept", "*/*");
            for (k, v) in headers {
                request = request.header(k, v);
            }
            let response = request
                .send()
                .await
                .map_err(|e| format!("Get \"{url}\": {}", error_chain(&e)))?;
            let code = response.status().as_u16();
            if (200..400).contains(&code) {
                Ok(())
            } else {
                Err(format!("HTTP probe failed with statuscode: {code}"))
            }
        }
        Handler::Tcp { addr } => tokio::net::TcpStream::connect(addr)
            .await
            .map(drop)
            .map_err(|e| format!("dial tcp {addr}: {e}")),
        Handler::Exec { argv, dir } => {
            let mut cmd = tokio::process::Command::from(platform::app_command(argv));
            cmd.current_dir(dir)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true);
            let out = cmd
                .output()
                .await
                .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
            if out.status.success() {
                return Ok(());
            }
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            let text = text.trim();
            let code = out.status.code().map_or("a signal".to_owned(), |c| c.to_string());
            Err(if text.is_empty() {
                format!("command {:?} exited with {code}", argv.join(" "))
            } else {
                format!(
                    "command {:?} exited with {code}: {}",
                    argv.join(" "),
                    truncate(text, 512)
                )
            })
        }
        Handler::Grpc { host, port, service } => grpc_health::check(host, *port, service).await,
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The standard gRPC health check, `grpc.health.v1.Health/Check`, over plain HTTP/2.
pub mod grpc_health {
    use bytes_of::{encode_request, serving_status};
    use tokio::net::TcpStream;

    pub const PATH: &str = "/grpc.health.v1.Health/Check";

    /// `Ok` when the server answers SERVING for `service` (`""` is the whole server).
    pub async fn check(host: &str, port: u16, service: &str) -> Result<(), String> {
        let fail = |e: &dyn std::fmt::Display| {
            format!("failed to connect service \"{host}:{port}\" within the timeout: {e}")
        };
        let tcp = TcpStream::connect((host, port)).await.map_err(|e| fail(&e))?;
        let (client, connection) = h2::client::handshake(tcp).await.map_err(|e| fail(&e))?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let result = call(client, host, port, service).await;
        driver.abort();
        result
    }

    async fn call(
        client: h2::client::SendRequest<bytes::Bytes>,
        host: &str,
        port: u16,
        service: &str,
    ) -> Result<(), String> {
        let rpc = |e: &dyn std::fmt::Display| format!("health rpc failed: {e}");
        let mut client = client.ready().await.map_err(|e| rpc(&e))?;
        let request = axum::http::Request::builder()
            .method("POST")
            .uri(format!("http://{host}:{port}{PATH}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .map_err(|e| rpc(&e))?;
        let (response, mut stream) = client.send_request(request, false).map_err(|e| rpc(&e))?;
        stream
            .send_data(bytes::Bytes::from(encode_request(service)), true)
            .map_err(|e| rpc(&e))?;
        let response = response.await.map_err(|e| rpc(&e))?;
        let (parts, mut body) = response.into_parts();
        let mut data = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(|e| rpc(&e))?;
            let _ = body.flow_control().release_capacity(chunk.len());
            data.extend_from_slice(&chunk);
        }
        let trailers = body.trailers().await.map_err(|e| rpc(&e))?;
        let header = |name: &str| {
            trailers
                .as_ref()
                .and_then(|t| t.get(name))
                .or_else(|| parts.headers.get(name))
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let status = header("grpc-status").unwrap_or_else(|| "2".into());
        if status != "0" {
            let message = header("grpc-message").unwrap_or_default();
            return Err(format!("rpc error: code = {status} desc = {message}"));
        }
        match serving_status(&data) {
            Some(1) => Ok(()),
            Some(code) => Err(format!(
                "service unhealthy (responded with \"{}\")",
                match code {
                    2 => "NOT_SERVING",
                    3 => "SERVICE_UNKNOWN",
                    _ => "UNKNOWN",
                }
            )),
            None => Err("health rpc failed: the answer is not a HealthCheckResponse".into()),
        }
    }

    /// The two messages, in the length-prefixed gRPC framing, by hand: one field each.
    pub mod bytes_of {
        /// `HealthCheckRequest { service = 1 }`, framed.
        pub fn encode_request(service: &str) -> Vec<u8> {
            let mut message = Vec::new();
            if !service.is_empty() {
                message.push(0x0a);
                prost::encoding::encode_varint(service.len() as u64, &mut message);
                message.extend_from_slice(service.as_bytes());
            }
            frame(&message)
        }

        /// `HealthCheckResponse { status = 1 }`, framed.
        pub fn encode_response(status: u64) -> Vec<u8> {
            let mut message = vec![0x08];
            prost::encoding::encode_varint(status, &mut message);
            frame(&message)
        }

        fn frame(message: &[u8]) -> Vec<u8> {
            let mut out = vec![0];
            out.extend_from_slice(&(message.len() as u32).to_be_bytes());
            out.extend_from_slice(message);
            out
        }

        /// The status of a framed response; `Some(0)` (UNKNOWN) when the field is absent.
        pub fn serving_status(framed: &[u8]) -> Option<u64> {
            let len = u32::from_be_bytes(framed.get(1..5)?.try_into().ok()?) as usize;
            let mut message = framed.get(5..5 + len)?;
            let mut status = 0;
            while !message.is_empty() {
                let key = prost::encoding::decode_varint(&mut message).ok()?;
                match (key >> 3, key & 7) {
                    (1, 0) => status = prost::encoding::decode_varint(&mut message).ok()?,
                    (_, 0) => {
                        prost::encoding::decode_varint(&mut message).ok()?;
                    }
                    (_, 2) => {
                        let n = prost::encoding::decode_varint(&mut message).ok()? as usize;
                        message = message.get(n..)?;
                    }
                    _ => return None,
                }
            }
            Some(status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn probe(kind: ProbeKind, spec: Value, container: &Value) -> Probe {
        parse(&spec, kind, container, &[(8080, 41000)], Path::new("/tmp")).unwrap()
    }

    #[test]
    fn probes_take_kubernetes_defaults_and_leased_ports() {
        let c = json!({"ports": [{"name": "http", "containerPort": 8080}]});
        let p = probe(
            ProbeKind::Readiness,
            json!({"httpGet": {"path": "healthz", "port": "http",
            "httpHeaders": [{"name": "X-Probe", "value": "1"}]}}),
            &c,
        );
        match &p.handler {
            Handler::Http { url, headers } => {
                assert_eq!(url, "http://127.0.0.1:41000/healthz");
                assert_eq!(headers, &[("X-Probe".to_owned(), "1".to_owned())]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.period, Duration::from_secs(10));
        assert_eq!(p.timeout, Duration::from_secs(1));
        assert_eq!(p.failure_threshold, 3);
        let tcp = probe(
            ProbeKind::Liveness,
            json!({"tcpSocket": {"port": 9000}, "successThreshold": 3}),
            &c,
        );
        assert!(matches!(&tcp.handler, Handler::Tcp { addr } if addr == "127.0.0.1:9000"));
        assert_eq!(tcp.success_threshold, 1, "liveness must have 1");
        let err = parse(
            &json!({"tcpSocket": {"port": "nope"}}),
            ProbeKind::Liveness,
            &c,
            &[],
            Path::new("/"),
        )
        .unwrap_err();
        assert_eq!(err, "the container declares no port named \"nope\"");
        let err = parse(
            &json!({"periodSeconds": 1}),
            ProbeKind::Startup,
            &c,
            &[],
            Path::new("/"),
        )
        .unwrap_err();
        assert!(err.contains("one of httpGet, tcpSocket, exec or grpc"), "{err}");
    }

    #[tokio::test]
    async fn handlers_pass_and_fail_as_the_kubelet_judges() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                let code = if request.starts_with("GET /ok ") {
                    "200 OK"
                } else {
                    "503 Service Unavailable"
                };
                let _ = s
                    .write_all(
                        format!("HTTP/1.1 {code}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                            .as_bytes(),
                    )
                    .await;
            }
        });
        let c = json!({});
        let run = |spec: Value| {
            let p = parse(&spec, ProbeKind::Readiness, &c, &[], Path::new("/tmp")).unwrap();
            async move { check(&p).await }
        };
        assert_eq!(
            run(json!({"httpGet": {"path": "/ok", "port": port}})).await,
            Ok(())
        );
        assert_eq!(
            run(json!({"httpGet": {"path": "/bad", "port": port}})).await,
            Err("HTTP probe failed with statuscode: 503".into())
        );
        assert_eq!(run(json!({"tcpSocket": {"port": port}})).await, Ok(()));
        let closed = crate::kube::probes::tests::closed_port();
        assert!(
            run(json!({"tcpSocket": {"port": closed}}))
                .await
                .unwrap_err()
                .starts_with("dial tcp")
        );
        #[cfg(unix)]
        {
            assert_eq!(run(json!({"exec": {"command": ["true"]}})).await, Ok(()));
            let err = run(json!({"exec": {"command": ["sh", "-c", "echo sick; exit 3"]}}))
                .await
                .unwrap_err();
            assert!(err.contains("exited with 3: sick"), "{err}");
            let slow = run(json!({"exec": {"command": ["sleep", "5"]}, "timeoutSeconds": 1}))
                .await
                .unwrap_err();
            assert!(slow.starts_with("timeout"), "{slow}");
        }
    }

    fn closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    /// A real HTTP/2 gRPC health server that answers `status` for every service but "gone".
    async fn grpc_server(status: u64) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let Ok(mut conn) = h2::server::handshake(socket).await else {
                        return;
                    };
                    while let Some(Ok((request, mut respond))) = conn.accept().await {
                        let (parts, mut body) = request.into_parts();
                        let mut data = Vec::new();
                        while let Some(Ok(chunk)) = body.data().await {
                            let _ = body.flow_control().release_capacity(chunk.len());
                            data.extend_from_slice(&chunk);
                        }
                        let asked_gone = data.windows(4).any(|w| w == b"gone");
                        let response = axum::http::Response::builder()
                            .header("content-type", "application/grpc")
                            .body(())
                            .unwrap();
                        let mut stream = respond.send_response(response, false).unwrap();
                        let mut trailers = axum::http::HeaderMap::new();
                        if parts.uri.path() != grpc_health::PATH || asked_gone {
                            trailers.insert("grpc-status", "5".parse().unwrap());
                            trailers.insert("grpc-message", "unknown service".parse().unwrap());
                        } else {
                            let _ = stream
                                .send_data(grpc_health::bytes_of::encode_response(status).into(), false);
                            trailers.insert("grpc-status", "0".parse().unwrap());
                        }
                        let _ = stream.send_trailers(trailers);
                    }
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn the_grpc_health_check_reads_serving_and_not_serving() {
        let serving = grpc_server(1).await;
        assert_eq!(grpc_health::check("127.0.0.1", serving, "").await, Ok(()));
        assert_eq!(grpc_health::check("127.0.0.1", serving, "shop").await, Ok(()));
        let err = grpc_health::check("127.0.0.1", serving, "gone")
            .await
            .unwrap_err();
        assert_eq!(err, "rpc error: code = 5 desc = unknown service");
        let sick = grpc_server(2).await;
        assert_eq!(
            grpc_health::check("127.0.0.1", sick, "").await,
            Err("service unhealthy (responded with \"NOT_SERVING\")".into())
        );
        let err = grpc_health::check("127.0.0.1", closed_port(), "")
            .await
            .unwrap_err();
        assert!(err.starts_with("failed to connect service"), "{err}");
    }

    #[test]
    fn grpc_messages_round_trip() {
        use grpc_health::bytes_of::*;
        assert_eq!(serving_status(&encode_response(1)), Some(1));
        assert_eq!(serving_status(&encode_response(2)), Some(2));
        assert_eq!(encode_request("ab"), [0, 0, 0, 0, 4, 0x0a, 2, b'a', b'b']);
        assert_eq!(serving_status(&[0, 0, 0, 0, 0]), Some(0));
        assert_eq!(serving_status(&[0, 0, 0, 9]), None);
    }
}
