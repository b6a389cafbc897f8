//! The daemon's one API: the Kubernetes REST API, served by axum over the object store.
//! Discovery, the verbs on every kind under `/api/v1`, watches, pod logs, and `Status` errors,
//! so that jube's own commands and kubectl are clients alike.

mod cluster_ips;
mod defaults;
mod discovery;
mod events_v1;
pub mod guard;
mod logs;
mod metrics;
mod nodes;
pub mod objects;
mod openapi;
mod protobuf;
mod remote;
pub mod request;
mod stream;
mod tables;
pub mod tls;
mod watch;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{any, get, post};
use serde_json::json;

use crate::kube::daemon::{DaemonLog, Shutdown};
use crate::kube::kinds::{DEFAULT_NAMESPACE, Kind};
use crate::kube::status::ApiError;
use crate::kube::store::Store;
use crate::layout::Layout;
use objects::Body;
use request::{Params, Reply, Sub, Target};

/// What every handler shares.
pub struct ApiState {
    pub store: Arc<Store>,
    pub layout: Layout,
    pub log: DaemonLog,
    pub shutdown: tokio::sync::watch::Sender<Option<Shutdown>>,
    /// Where Services' addresses come from.
    pub service_range: crate::kube::cluster_ip::ServiceRange,
    /// Held from choosing a Service's address until it is stored, so that two Services created
    /// at once never draw the same one.
    pub service_writes: std::sync::Mutex<()>,
}

pub type Shared = Arc<ApiState>;

/// The API's routes, behind the [`guard::Guard`] every request passes first. Makes sure the
/// `default` namespace exists first, as every cluster has it.
pub fn router(state: Shared, guard: guard::Guard) -> Router {
    match state.store.ensure_namespace(DEFAULT_NAMESPACE) {
        Ok(true) => state.log.line("created the default namespace"),
        Ok(false) => {}
        Err(e) => state
            .log
            .line(&format!("cannot create the default namespace: {e}")),
    }
    Router::new()
        .route("/", get(discovery::root_paths))
        .route("/healthz", get(ok))
        .route("/livez", get(ok))
        .route("/readyz", get(ok))
        .route("/version", get(version))
        .route("/api", get(discovery::api_versions))
        .route("/api/v1", get(discovery::core_v1))
        .route("/api/v1/nodes", any(nodes::list))
        .route("/api/v1/nodes/{name}", any(nodes::get))
        .route("/api/v1/{*rest}", any(resource))
        .route("/apis", get(discovery::api_groups))
        .route("/apis/apps", get(discovery::apps_group))
        .route("/apis/batch", get(discovery::batch_group))
        .route("/apis/apps/v1", get(discovery::apps_v1))
        .route("/apis/batch/v1", get(discovery::batch_v1))
        .route("/apis/{group}/{version}/{*rest}", any(group_resource))
        .route("/apis/discovery.k8s.io", get(discovery::discovery_group))
        .route("/apis/discovery.k8s.io/v1", get(discovery::discovery_v1))
        .route("/openapi/v3/apis/discovery.k8s.io/v1", get(openapi::discovery_v1))
        .route("/apis/metrics.k8s.io", get(metrics::api_group))
        .route("/apis/metrics.k8s.io/v1beta1", get(metrics::resources))
        .route("/apis/metrics.k8s.io/v1beta1/{*rest}", any(metrics::resource))
        .route("/apis/events.k8s.io", get(discovery::events_group))
        .route("/apis/events.k8s.io/v1", get(discovery::events_v1))
        .route("/apis/events.k8s.io/v1/{*rest}", any(events_v1_resource))
        .route("/openapi/v3/apis/apps/v1", get(openapi::apps_v1))
        .route("/openapi/v3/apis/batch/v1", get(openapi::batch_v1))
        .route("/openapi/v3", get(openapi::root))
        .route("/openapi/v3/api/v1", get(openapi::core_v1))
        .route("/jube/v1/shutdown", post(shutdown))
        .merge(remote::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(guard),
            guard::guard,
        ))
}

async fn ok() -> &'static str {
    "ok"
}

async fn not_found() -> Response {
    ApiError::no_such_resource().into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::method_not_allowed().into_response()
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

/// Everything under `/api/v1/`.
async fn resource(
    State(state): State<Shared>,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_in("/api/v1", state, method, &rest, query.as_deref(), &headers, body).await
}

/// Everything under `/apis/events.k8s.io/v1/`: the core events in the newer shape, read-only.
async fn events_v1_resource(
    State(state): State<Shared>,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET {
        return ApiError::method_not_allowed().into_response();
    }
    let params = Params::parse(query.as_deref());
    // A watch and a table show what core/v1 shows: the same events, and the same columns.
    let as_core = params.flag("watch").unwrap_or(false)
        || tables::requested(&headers, params.get("includeObject")).is_ok_and(|t| t.is_some());
    if as_core {
        return serve_in(
            "/api/v1",
            state,
            method,
            &rest,
            query.as_deref(),
            &headers,
            Bytes::new(),
        )
        .await;
    }
    let reply = tokio::task::spawn_blocking(move || events_v1::get(&state, &rest, query.as_deref())).await;
    match reply {
        Ok(Ok(reply)) => reply.into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => ApiError::internal(format!("the request failed: {e}")).into_response(),
    }
}

/// The API groups whose objects are served as core/v1's are (events.k8s.io has a route of its own).
const GROUPS: [&str; 3] = ["/apis/apps/v1", "/apis/batch/v1", "/apis/discovery.k8s.io/v1"];

/// Everything under `/apis/GROUP/VERSION/` of the groups in [`GROUPS`].
async fn group_resource(
    State(state): State<Shared>,
    method: Method,
    Path((group, version, rest)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let root = format!("/apis/{group}/{version}");
    if !GROUPS.contains(&root.as_str()) {
        return not_found().await;
    }
    serve_in(&root, state, method, &rest, query.as_deref(), &headers, body).await
}

async fn serve_in(
    root: &str,
    state: Shared,
    method: Method,
    rest: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    match serve(state, method, root, rest, query, headers, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn serve(
    state: Shared,
    method: Method,
    root: &str,
    rest: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let target = Target::parse_in(root, rest)?;
    let params = Params::parse(query);
    if method == Method::GET && target.sub == Some(Sub::Log) {
        return logs::log(state, target, params).await;
    }
    let table = tables::requested(headers, params.get("includeObject"))?;
    if method == Method::GET && (target.watch_path || params.flag("watch")?) {
        if target.sub.is_some() {
            return Err(ApiError::method_not_allowed());
        }
        return watch::watch(state, target, params, table).await;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let reply = tokio::task::spawn_blocking(move || {
        let body = Body {
            bytes: &body,
            content_type: &content_type,
            user_agent: &user_agent,
        };
        let reply = dispatch(&state, &method, &target, &params, &body)?;
        Ok::<_, ApiError>(match table {
            Some(include) if method == Method::GET && target.sub != Some(Sub::Scale) => {
                as_table(&target, reply, include)
            }
            _ => reply,
        })
    })
    .await
    .map_err(|e| ApiError::internal(format!("the request failed: {e}")))??;
    Ok(reply.into_response())
}

/// A list or an object, as the Table `kubectl get` asks for.
fn as_table(target: &Target, reply: Reply, include: tables::Include) -> Reply {
    let body = if target.name.is_some() {
        tables::to_table(target.kind, std::slice::from_ref(&reply.body), None, include)
    } else {
        let items = reply.body["items"].as_array().cloned().unwrap_or_default();
        let revision = reply.body["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|r| r.parse().ok());
        tables::to_table(target.kind, &items, revision, include)
    };
    Reply { body, ..reply }
}

fn dispatch(
    state: &ApiState,
    method: &Method,
    target: &Target,
    params: &Params,
    body: &Body,
) -> Result<Reply, ApiError> {
    let _service_write = (target.kind == Kind::Service && *method != Method::GET)
        .then(|| state.service_writes.lock().unwrap_or_else(|e| e.into_inner()));
    match (method.as_str(), target.name.as_deref()) {
        ("GET", None) => objects::list(state, target, params),
        ("POST", None) => objects::create(state, target, params, body),
        ("DELETE", None) => objects::delete_collection(state, target, params, body),
        ("GET", Some(name)) => objects::get(state, target, name),
        ("PUT", Some(name)) => objects::replace(state, target, name, params, body),
        ("PATCH", Some(name)) => objects::patch(state, target, name, params, body),
        ("DELETE", Some(name)) => objects::delete(state, target, name, params, body),
        _ => Err(ApiError::method_not_allowed()),
    }
}
