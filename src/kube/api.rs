//! The daemon's one API: the Kubernetes REST API, served by axum over the object store.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::{get, post};
use serde_json::json;

use crate::kube::daemon::{DaemonLog, Shutdown};
use crate::kube::store::Store;
use crate::layout::Layout;

/// What every handler shares.
pub struct ApiState {
    pub store: Arc<Store>,
    pub layout: Layout,
    pub log: DaemonLog,
    pub shutdown: tokio::sync::watch::Sender<Option<Shutdown>>,
}

pub type Shared = Arc<ApiState>;

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/version", get(version))
        .route("/jube/v1/shutdown", post(shutdown))
        .with_state(state)
}

async fn version() -> impl IntoResponse {
    Json(json!({
        "major": "1",
        "minor": "33",
        "gitVersion": concat!("v1.33.0-jube.", env!("CARGO_PKG_VERSION")),
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    }))
}

#[derive(serde::Deserialize)]
struct ShutdownQuery {
    #[serde(default, rename = "stopPods")]
    stop_pods: bool,
}

/// `jube daemon stop`: answers first, then the daemon winds down.
async fn shutdown(State(state): State<Shared>, Query(q): Query<ShutdownQuery>) -> impl IntoResponse {
    let mode = if q.stop_pods {
        Shutdown::StopPods
    } else {
        Shutdown::LeavePods
    };
    state.log.line(&format!("shutdown requested ({mode:?})"));
    let _ = state.shutdown.send(Some(mode));
    (
        StatusCode::ACCEPTED,
        Json(json!({"kind": "Status", "apiVersion": "v1", "status": "Success"})),
    )
}
