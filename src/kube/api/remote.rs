//! Into a running pod: `pods/{name}/exec` (kubectl's WebSocket remote-command protocol),
//! `pods/{name}/portforward` (SPDY/3.1, tunnelled in a WebSocket or after a plain upgrade), and
//! `pods/{name}/attach`, which is refused with what to use instead.

mod exec;
mod portforward;
#[cfg(unix)]
mod pty;
mod spdy;
mod transport;

use axum::Router;
use axum::extract::{FromRequest, Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use crate::kube::api::Shared;
use crate::kube::status::ApiError;

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
