//! The resource metrics API, `metrics.k8s.io/v1beta1`, which `kubectl top` reads: PodMetrics and
//! NodeMetrics, list and get. The figures come from one shared meter, so each answer's CPU covers
//! the time since the previous answer (at least half a second: a first request measures for that
//! long), as metrics-server's cover the time between its scrapes.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use super::Shared;
use super::request::{Params, Reply};
use crate::container::lifecycle::Containers;
use crate::container::state::State as ContainerState;
use crate::container::usage::{Meter, Reading};
use crate::kube::kinds::Kind;
use crate::kube::metrics::{self, GROUP_VERSION};
use crate::kube::status::ApiError;

pub const GROUP: &str = "metrics.k8s.io";
pub const VERSION: &str = "v1beta1";

/// The shortest time a CPU figure covers.
const WINDOW: Duration = Duration::from_millis(500);
/// A previous reading older than this is not used: its average would hide what runs now.
const MAX_AGE: Duration = Duration::from_secs(30);

fn version() -> Value {
    json!({"groupVersion": GROUP_VERSION, "version": VERSION})
}

/// The group as `/apis` lists it.
pub fn group() -> Value {
    json!({"name": GROUP, "versions": [version()], "preferredVersion": version()})
}

pub async fn api_group() -> impl IntoResponse {
    let mut g = group();
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Json(g)
}

pub async fn resources() -> impl IntoResponse {
    let resource = |name: &str, kind: &str, namespaced: bool| {
        json!({"name": name, "singularName": "", "namespaced": namespaced, "kind": kind,
               "verbs": ["get", "list"]})
    };
    Json(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": GROUP_VERSION,
        "resources": [resource("nodes", "NodeMetrics", false), resource("pods", "PodMetrics", true)],
    }))
}

/// What a path under `/apis/metrics.k8s.io/v1beta1/` names.
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    Nodes(Option<String>),
    /// Pods of a namespace (all of them for `None`), or one pod.
    Pods(Option<String>, Option<String>),
}

fn parse(rest: &str) -> Option<Asked> {
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["nodes"] => Some(Asked::Nodes(None)),
        ["nodes", name] => Some(Asked::Nodes(Some((*name).to_owned()))),
        ["pods"] => Some(Asked::Pods(None, None)),
        ["namespaces", ns, "pods"] => Some(Asked::Pods(Some((*ns).to_owned()), None)),
        ["namespaces", ns, "pods", name] => {
            Some(Asked::Pods(Some((*ns).to_owned()), Some((*name).to_owned())))
        }
        _ => None,
    }
}

pub async fn resource(
    State(state): State<Shared>,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if method != Method::GET {
        return ApiError::method_not_allowed().into_response();
    }
    let Some(path) = parse(&rest) else {
        return ApiError::no_such_resource().into_response();
    };
    let reply =
        tokio::task::spawn_blocking(move || answer(&state, path, &Params::parse(query.as_deref()))).await;
    match reply {
        Ok(Ok(reply)) => reply.into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => ApiError::internal(format!("the request failed: {e}")).into_response(),
    }
}

/// One reading of every container, shared by every request.
fn read(states: &[ContainerState]) -> Reading {
    static METER: OnceLock<Mutex<Meter>> = OnceLock::new();
    let meter = METER.get_or_init(|| Mutex::new(Meter::new()));
    let mut meter = meter.lock().unwrap_or_else(|p| p.into_inner());
    meter.read_over(states, WINDOW, MAX_AGE)
}

fn answer(state: &super::ApiState, path: Asked, params: &Params) -> Result<Reply, ApiError> {
    if params.flag("watch")? {
        return Err(ApiError::method_not_allowed());
    }
    let states: Vec<ContainerState> = Containers::new(state.layout.clone())
        .list()
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    match path {
        Asked::Nodes(name) => {
            let nodes = match &name {
                Some(name) => {
                    let node = super::nodes::this_node(state);
                    if node["metadata"]["name"] != name.as_str() {
                        return Err(ApiError::resource_not_found("nodes.metrics.k8s.io", name));
                    }
                    vec![node]
                }
                None => super::nodes::selected(state, params)?,
            };
            let reading = read(&states);
            let mut items: Vec<Value> = nodes.iter().map(|n| metrics::node_metrics(n, &reading)).collect();
            Ok(Reply::ok(match name {
                Some(_) => items.remove(0),
                None => metrics::list("NodeMetricsList", items),
            }))
        }
        Asked::Pods(namespace, name) => {
            let pods = match (&namespace, &name) {
                (Some(ns), Some(name)) => state
                    .store
                    .get(Kind::Pod, ns, name)?
                    .map(|pod| vec![pod])
                    .ok_or_else(|| ApiError::resource_not_found("pods.metrics.k8s.io", name))?,
                _ => {
                    let labels = params.labels()?;
                    let (pods, _) = state.store.list(Kind::Pod, namespace.as_deref())?;
                    pods.into_iter().filter(|p| labels.matches_object(p)).collect()
                }
            };
            let reading = read(&states);
            let mut items: Vec<Value> = pods
                .iter()
                .filter_map(|pod| metrics::pod_metrics(pod, &states, &reading))
                .collect();
            match name {
                Some(name) if items.is_empty() => {
                    Err(ApiError::resource_not_found("pods.metrics.k8s.io", &name))
                }
                Some(_) => Ok(Reply::ok(items.remove(0))),
                None => Ok(Reply::ok(metrics::list("PodMetricsList", items))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_what_kubectl_top_asks_for() {
        assert_eq!(parse("nodes"), Some(Asked::Nodes(None)));
        assert_eq!(parse("nodes/box"), Some(Asked::Nodes(Some("box".into()))));
        assert_eq!(parse("pods"), Some(Asked::Pods(None, None)));
        assert_eq!(
            parse("namespaces/dev/pods"),
            Some(Asked::Pods(Some("dev".into()), None))
        );
        assert_eq!(
            parse("namespaces/dev/pods/web"),
            Some(Asked::Pods(Some("dev".into()), Some("web".into())))
        );
        assert_eq!(parse("namespaces/dev"), None);
        assert_eq!(parse("services"), None);
    }
}
