//! `pods/{name}/exec`: what the request asks for, which container runs it, and the protocol:
//! kubectl's WebSocket remote-command protocol (`v5.channel.k8s.io`; `v4` is the same without
//! the close signal), or SPDY for older clients through [`spdy_exec`]. Both lead to one
//! [`session`].

use axum::extract::Request;
use axum::response::Response;

use super::transport::{self, Channels};
use super::{PROTOCOL_HEADER, query_flag, query_values, session, spdy, spdy_exec, wants_spdy, websocket};
use crate::container::scripts;
use crate::container::state::Status;
use crate::kube::api::{Shared, logs};
use crate::kube::status::ApiError;

const V5: &str = "v5.channel.k8s.io";
const V4: &str = "v4.channel.k8s.io";

/// What `kubectl exec` asks for.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub command: Vec<String>,
    pub container: Option<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl ExecRequest {
    fn read(request: &Request) -> Result<Self, ApiError> {
        let command = query_values(request, "command");
        if command.is_empty() {
            return Err(ApiError::bad_request(
                "give the command to run: kubectl exec POD -- COMMAND [ARGS...]",
            ));
        }
        let tty = query_flag(request, "tty");
        Ok(Self {
            command,
            container: query_values(request, "container").pop().filter(|c| !c.is_empty()),
            stdin: query_flag(request, "stdin"),
            stdout: query_flag(request, "stdout"),
            // A terminal has one output; kubectl asks for no stderr then.
            stderr: query_flag(request, "stderr") && !tty,
            tty,
        })
    }
}

pub async fn serve(
    state: Shared,
    namespace: String,
    name: String,
    request: Request,
) -> Result<Response, ApiError> {
    let exec = ExecRequest::read(&request)?;
    if exec.tty && cfg!(not(unix)) {
        return Err(ApiError::bad_request(
            "jube gives exec no terminal on Windows yet: run the command without -t",
        ));
    }
    let looked_up = state.clone();
    let wanted = exec.container.clone();
    let pod = name.clone();
    let (containers, found) =
        tokio::task::spawn_blocking(move || logs::find(&looked_up, &namespace, &pod, wanted.as_deref()))
            .await
            .map_err(|e| ApiError::internal(format!("cannot look up the pod's container: {e}")))??;
    if found.status != Status::Running {
        return Err(ApiError::bad_request(format!(
            "cannot exec in pod {name}: its container {} is {:?}, not running; see `kubectl describe pod {name}`",
            found.name, found.status
        )));
    }
    let (app_base, env) = containers.exec_context(&found);
    let log = state.log.clone();
    let types = spdy_exec::expected(exec.stdin, exec.stdout, exec.stderr, exec.tty);
    let session = move |channels: Channels, v5: bool| async move {
        let Some((program, args)) = exec.command.split_first() else {
            return;
        };
        let (cmd, _) = scripts::exec_command(&app_base, program, args, &env);
        if let Err(e) = session::run(channels, &exec, cmd, v5).await {
            log.line(&format!("exec in pod {name}: {e}"));
        }
    };
    if wants_spdy(&request) {
        let offered = request
            .headers()
            .get_all(PROTOCOL_HEADER)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim() == V4);
        if !offered {
            return Err(ApiError::bad_request(format!(
                "exec over SPDY needs the protocol {V4} (X-Stream-Protocol-Version); \
                 kubectl 1.30 and later use a WebSocket ({V5}) instead"
            )));
        }
        let log = state.log.clone();
        return Ok(super::spdy_upgrade(
            request,
            V4,
            state.log.clone(),
            move |channels| async move {
                let streams = spdy::serve(channels, log);
                if let Some(channels) = spdy_exec::channels(streams, &types).await {
                    session(channels, true).await;
                }
            },
        ));
    }
    let Some(ws) = websocket(request, &state).await else {
        return Err(ApiError::bad_request(format!(
            "exec needs a WebSocket upgrade with the subprotocol {V5}"
        )));
    };
    let ws = ws.protocols([V5, V4]);
    let v5 = match ws.selected_protocol().and_then(|p| p.to_str().ok()) {
        Some(V5) => true,
        Some(_) => false,
        None => {
            return Err(ApiError::bad_request(format!(
                "exec over a WebSocket needs the subprotocol {V5} or {V4}"
            )));
        }
    };
    Ok(ws.on_upgrade(move |socket| session(transport::websocket(socket), v5)))
}
