//! `pods/{name}/portforward`: kubectl opens two SPDY streams per local connection, an error
//! stream and a data stream with the same `requestID` and the `port` the pod declares
//! (`containerPort`). jube connects the data stream to the host port it leased for that port,
//! and says on the error stream why it could not.
//!
//! kubectl 1.31 and later first ask for a WebSocket with the subprotocol
//! `SPDY/3.1+portforward.k8s.io` and speak SPDY inside its messages; older ones (and kubectl when
//! the WebSocket fails) upgrade the HTTP connection to `SPDY/3.1` directly. Both are served.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::spdy::{self, Stream, headers};
use super::{transport, wants_spdy, websocket};
use crate::container::lifecycle::Containers;
use crate::container::state::Status;
use crate::kube::api::Shared;
use crate::kube::api::objects::get_object;
use crate::kube::daemon::DaemonLog;
use crate::kube::kinds::Kind;
use crate::kube::selector::{POD_LABEL, POD_UID_LABEL};
use crate::kube::status::ApiError;

const PROTOCOL: &str = "portforward.k8s.io";
const TUNNELLED: &str = "SPDY/3.1+portforward.k8s.io";
/// How long the first stream of a request waits for its partner (the kubelet's default too).
const PAIR_WITHIN: Duration = Duration::from_secs(30);

/// The pod's declared ports: container port → the host port jube leased for it.
#[derive(Debug, Clone)]
struct Ports {
    pod: String,
    leased: Vec<(u16, u16)>,
}

impl Ports {
    fn host_port(&self, container_port: u16) -> Result<u16, String> {
        if let Some((_, host)) = self.leased.iter().find(|(c, _)| *c == container_port) {
            return Ok(*host);
        }
        let declared: Vec<String> = self.leased.iter().map(|(c, _)| c.to_string()).collect();
        Err(format!(
            "error forwarding port {container_port} to pod {}: no container of the pod declares \
             containerPort {container_port} ({}); jube forwards the ports a pod declares",
            self.pod,
            if declared.is_empty() {
                "it declares none".to_owned()
            } else {
                format!("it declares {}", declared.join(", "))
            }
        ))
    }
}

pub async fn serve(
    state: Shared,
    namespace: String,
    name: String,
    request: Request,
) -> Result<Response, ApiError> {
    let looked_up = state.clone();
    let pod = name.clone();
    let ports = tokio::task::spawn_blocking(move || ports(&looked_up, &namespace, &pod))
        .await
        .map_err(|e| ApiError::internal(format!("cannot look up the pod's ports: {e}")))??;
    let log = state.log.clone();
    if wants_spdy(&request) {
        return Ok(super::spdy_upgrade(
            request,
            PROTOCOL,
            log.clone(),
            move |channels| session(channels, ports, log),
        ));
    }
    match websocket(request, &state).await {
        Some(ws) => {
            let ws = ws.protocols([TUNNELLED]);
            if ws.selected_protocol().is_none() {
                return Err(ApiError::bad_request(format!(
                    "port-forward over a WebSocket needs the subprotocol {TUNNELLED}; use kubectl 1.31 or later"
                )));
            }
            Ok(ws.on_upgrade(move |socket| async move {
                session(transport::websocket(socket), ports, log).await;
            }))
        }
        None => Err(ApiError::bad_request(format!(
            "port-forward needs a connection upgrade: a WebSocket with the subprotocol {TUNNELLED}, \
             or SPDY/3.1 with X-Stream-Protocol-Version: {PROTOCOL}"
        ))),
    }
}

/// Pairs the streams of each request and forwards each pair. A stream whose partner has not come
/// within [`PAIR_WITHIN`] is refused when the next stream arrives.
async fn session(channels: transport::Channels, ports: Ports, log: DaemonLog) {
    let mut streams = spdy::serve(channels, log.clone());
    let mut waiting: HashMap<String, (Stream, Instant)> = HashMap::new();
    while let Some(stream) = streams.recv().await {
        let stale: Vec<String> = waiting
            .iter()
            .filter(|(_, (_, since))| since.elapsed() > PAIR_WITHIN)
            .map(|(request, _)| request.clone())
            .collect();
        for request in stale {
            if let Some((alone, _)) = waiting.remove(&request) {
                let why = format!("timed out waiting for the other stream of port-forward request {request}");
                refuse(alone, why).await;
            }
        }
        let Some(request) = headers::get(&stream.headers, "requestid").map(str::to_owned) else {
            refuse(stream, "a port-forward stream needs a requestID header".into()).await;
            continue;
        };
        let Some((other, _)) = waiting.remove(&request) else {
            waiting.insert(request, (stream, Instant::now()));
            continue;
        };
        let (error, data) = match headers::get(&stream.headers, "streamtype") {
            Some("error") => (stream, other),
            _ => (other, stream),
        };
        let ports = ports.clone();
        tokio::spawn(forward(error, data, ports));
    }
}

/// Ends a stream that cannot be served, saying why on it.
async fn refuse(stream: Stream, why: String) {
    stream.writer.send(Bytes::from(why)).await;
    stream.writer.finish().await;
}

/// Carries one connection: the data stream to and from the pod's port, and what went wrong on
/// the error stream, which is ended last in every case (kubectl waits for it).
async fn forward(error: Stream, data: Stream, ports: Ports) {
    let data_writer = data.writer.clone();
    if let Err(why) = carry(data, &ports).await {
        error.writer.send(Bytes::from(why)).await;
        data_writer.finish().await;
    }
    error.writer.finish().await;
}

async fn carry(data: Stream, ports: &Ports) -> Result<(), String> {
    let port = headers::get(&data.headers, "port")
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| "a port-forward stream needs a port header with a port number".to_owned())?;
    let host_port = ports.host_port(port)?;
    let tcp = connect(host_port).await.map_err(|e| {
        format!(
            "error forwarding port {port} to pod {}: nothing accepts connections on host port \
             {host_port}, the port jube leased for it: {e}",
            ports.pod
        )
    })?;
    let (mut from_pod, mut to_pod) = tcp.into_split();
    let Stream {
        data: mut incoming,
        mut reset,
        writer,
        ..
    } = data;
    // The client's bytes to the pod, then a half-close when the client ends its side.
    let up = async move {
        while let Some(chunk) = incoming.recv().await {
            if to_pod.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to_pod.shutdown().await;
    };
    let down = async move {
        let mut buf = vec![0u8; spdy::MAX_DATA];
        while let Ok(n) = from_pod.read(&mut buf).await
            && n > 0
        {
            if !writer.send(Bytes::copy_from_slice(&buf[..n])).await {
                return;
            }
        }
        writer.finish().await;
    };
    tokio::select! {
        _ = async { tokio::join!(up, down) } => {}
        _ = reset.wait_for(|r| *r) => {}
    }
    Ok(())
}

/// The pod's port on this machine, on IPv4 loopback or else IPv6 loopback.
async fn connect(port: u16) -> std::io::Result<TcpStream> {
    match TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
        Ok(tcp) => Ok(tcp),
        Err(v4) => TcpStream::connect(SocketAddr::from((Ipv6Addr::LOCALHOST, port)))
            .await
            .map_err(|_| v4),
    }
}

/// The host ports leased for the ports of the pod's running containers.
fn ports(state: &Shared, namespace: &str, name: &str) -> Result<Ports, ApiError> {
    let pod = get_object(state, Kind::Pod, namespace, name)?;
    let uid = pod
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let pod_key = format!("{namespace}/{name}");
    let running: Vec<_> = Containers::new(state.layout.clone())
        .list()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|s| s.labels.get(POD_LABEL) == Some(&pod_key))
        .filter(|s| s.labels.get(POD_UID_LABEL).is_none_or(|u| u == uid))
        .filter(|s| s.status == Status::Running)
        .collect();
    if running.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} has no running container to forward to; see `kubectl describe pod {name}`"
        )));
    }
    let leased = running
        .iter()
        .flat_map(|s| s.ports.iter().map(|l| (l.container_port, l.host_port)))
        .collect();
    Ok(Ports {
        pod: name.to_owned(),
        leased,
    })
}
