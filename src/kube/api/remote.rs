//! Into a running pod: `pods/{name}/exec` (kubectl's WebSocket remote-command protocol),
//! `pods/{name}/portforward` (SPDY/3.1, tunnelled in a WebSocket or after a plain upgrade), and
//! `pods/{name}/attach`, which is refused with what to use instead.

mod exec;
mod portforward;
#[cfg(unix)]
mod pty;
mod session;
mod spdy;
mod spdy_exec;
mod transport;

use std::future::Future;

use axum::Router;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use hyper_util::rt::TokioIo;

use crate::kube::api::Shared;
use crate::kube::daemon::DaemonLog;
use crate::kube::status::ApiError;

/// The header of a SPDY upgrade that names the stream protocol (offered, then chosen).
const PROTOCOL_HEADER: &str = "X-Stream-Protocol-Version";

/// The routes, to be merged before the catch-all of `/api/v1/`.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/namespaces/{namespace}/pods/{name}/exec", any(exec_route))
        .route(
            "/api/v1/namespaces/{namespace}/pods/{name}/portforward",
            any(portforward_route),
        )
        .route("/api/v1/namespaces/{namespace}/pods/{name}/attach", any(attach))
}

async fn exec_route(
    State(state): State<Shared>,
    Path((namespace, name)): Path<(String, String)>,
    request: Request,
) -> Response {
    exec::serve(state, namespace, name, request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn portforward_route(
    State(state): State<Shared>,
    Path((namespace, name)): Path<(String, String)>,
    request: Request,
) -> Response {
    portforward::serve(state, namespace, name, request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// jube's apps write to their log files, not to a terminal a client could join.
async fn attach(Path((_, name)): Path<(String, String)>) -> Response {
    ApiError::bad_request(format!(
        "jube does not attach to a running app: its output goes to its log, not to a terminal. \
         Follow the output with `kubectl logs -f {name}`, or run a command beside the app with \
         `kubectl exec -it {name} -- sh`"
    ))
    .into_response()
}

/// The WebSocket upgrade a request asks for, if it asks for one.
async fn websocket(request: Request, state: &Shared) -> Option<axum::extract::ws::WebSocketUpgrade> {
    let wants = request
        .headers()
        .get(axum::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !wants {
        return None;
    }
    axum::extract::ws::WebSocketUpgrade::from_request(request, state)
        .await
        .ok()
}

/// Whether a request asks to upgrade to SPDY/3.1.
fn wants_spdy(request: &Request) -> bool {
    request
        .headers()
        .get(axum::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("spdy/3.1"))
}

/// Answers `101 Switching Protocols` to a SPDY/3.1 upgrade, naming `protocol`, and hands the
/// raw connection to `then`.
fn spdy_upgrade<F, Fut>(mut request: Request, protocol: &'static str, log: DaemonLog, then: F) -> Response
where
    F: FnOnce(transport::Channels) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(on_upgrade) = request.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return ApiError::internal("this connection cannot be upgraded").into_response();
    };
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => then(transport::raw(TokioIo::new(upgraded))).await,
            Err(e) => log.line(&format!("a SPDY upgrade failed: {e}")),
        }
    });
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    h.insert(PROTOCOL_HEADER, HeaderValue::from_static(protocol));
    response
}

/// The query's values of `key`, in order (`command` comes once per argument).
fn query_values(request: &Request, key: &str) -> Vec<String> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// A query flag: `true` or `1`.
fn query_flag(request: &Request, key: &str) -> bool {
    query_values(request, key)
        .last()
        .is_some_and(|v| v == "true" || v == "1")
}
