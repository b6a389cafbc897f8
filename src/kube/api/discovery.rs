//! Discovery, as kubectl reads it before anything else: `/api` (APIVersions), `/api/v1`
//! (APIResourceList), `/apis` (APIGroupList, no groups yet) and the root's path list.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json};
use serde_json::{Value, json};

use crate::kube::kinds::Kind;

const READ_WRITE: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// Namespaces have no deletecollection, in Kubernetes either.
const NAMESPACE_VERBS: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];
const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];

pub async fn api_versions(headers: HeaderMap) -> impl IntoResponse {
    let server = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    Json(json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
    }))
}

/// The named groups jube serves, each with its one version.
const GROUPS: [&str; 4] = ["apps", "batch", "discovery.k8s.io", "events.k8s.io"];

fn group(name: &str) -> Value {
    let version = json!({"groupVersion": format!("{name}/v1"), "version": "v1"});
    json!({"name": name, "versions": [version], "preferredVersion": version})
}

pub async fn api_groups() -> impl IntoResponse {
    let mut groups: Vec<Value> = GROUPS.iter().map(|g| group(g)).collect();
    groups.push(super::metrics::group());
    Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
}

pub async fn apps_group() -> impl IntoResponse {
    Json(with_kind(group("apps"), "APIGroup"))
}

pub async fn batch_group() -> impl IntoResponse {
    Json(with_kind(group("batch"), "APIGroup"))
}

fn with_kind(mut v: Value, kind: &str) -> Value {
    v["kind"] = json!(kind);
    v["apiVersion"] = json!("v1");
    v
}

pub async fn discovery_group() -> impl IntoResponse {
    Json(with_kind(group("discovery.k8s.io"), "APIGroup"))
}

pub async fn discovery_v1() -> impl IntoResponse {
    Json(group_resource_list("discovery.k8s.io/v1"))
}

pub async fn events_group() -> impl IntoResponse {
    Json(with_kind(group("events.k8s.io"), "APIGroup"))
}

/// events.k8s.io/v1 serves the core events in their newer shape, for reading.
pub async fn events_v1() -> impl IntoResponse {
    Json(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "events.k8s.io/v1",
        "resources": [{"name": "events", "singularName": "event", "namespaced": true, "kind": "Event",
            "verbs": ["get", "list", "watch"]}],
    }))
}

pub async fn apps_v1() -> impl IntoResponse {
    Json(group_resource_list("apps/v1"))
}

pub async fn batch_v1() -> impl IntoResponse {
    Json(group_resource_list("batch/v1"))
}

pub async fn root_paths() -> impl IntoResponse {
    Json(
        json!({"paths": ["/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/apis/batch", "/apis/batch/v1", "/apis/discovery.k8s.io", "/apis/discovery.k8s.io/v1", "/apis/events.k8s.io", "/apis/events.k8s.io/v1", "/apis/metrics.k8s.io", "/apis/metrics.k8s.io/v1beta1", "/healthz", "/livez", "/readyz", "/version"]}),
    )
}

pub async fn core_v1() -> impl IntoResponse {
    Json(resource_list())
}

/// Every resource and subresource of the core group jube serves.
pub fn resource_list() -> Value {
    group_resource_list("v1")
}

/// Every resource and subresource of one group version (`v1`, `apps/v1`, `batch/v1`).
pub fn group_resource_list(group_version: &str) -> Value {
    let mut resources = Vec::new();
    for kind in Kind::ALL.into_iter().filter(|k| k.api_version() == group_version) {
        let verbs = if kind == Kind::Namespace {
            NAMESPACE_VERBS
        } else {
            READ_WRITE
        };
        let mut resource = json!({
            "name": kind.plural(),
            "singularName": kind.singular(),
            "namespaced": kind.namespaced(),
            "kind": kind.name(),
            "verbs": verbs,
            "shortNames": kind.short_names(),
        });
        // `kubectl get all` is the resources in the `all` category.
        if kind.in_category_all() {
            resource["categories"] = json!(["all"]);
        }
        resources.push(resource);
        if kind.has_status() {
            resources.push(subresource(kind, "status", kind.name(), GET_PATCH_UPDATE, None));
        }
        match kind {
            Kind::Pod => {
                resources.push(subresource(kind, "log", "Pod", &["get"], None));
                resources.push(subresource(
                    kind,
                    "exec",
                    "PodExecOptions",
                    &["create", "get"],
                    None,
                ));
                resources.push(subresource(
                    kind,
                    "portforward",
                    "PodPortForwardOptions",
                    &["create", "get"],
                    None,
                ));
            }
            k if k.scalable() => resources.push(subresource(
                kind,
                "scale",
                "Scale",
                GET_PATCH_UPDATE,
                Some(("autoscaling", "v1")),
            )),
            _ => {}
        }
    }
    if group_version == "v1" {
        // The machine, as the one node (see `nodes.rs`): read-only.
        resources.push(
            json!({"name": "nodes", "singularName": "node", "namespaced": false,
            "kind": "Node", "verbs": ["get", "list"], "shortNames": ["no"]}),
        );
    }
    resources.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    })
}

fn subresource(kind: Kind, sub: &str, sub_kind: &str, verbs: &[&str], group: Option<(&str, &str)>) -> Value {
    let mut r = json!({
        "name": format!("{}/{sub}", kind.plural()),
        "singularName": "",
        "namespaced": kind.namespaced(),
        "kind": sub_kind,
        "verbs": verbs,
    });
    if let Some((group, version)) = group {
        r["group"] = json!(group);
        r["version"] = json!(version);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_list_names_every_resource_and_subresource() {
        let list = resource_list();
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "configmaps",
                "endpoints",
                "events",
                "namespaces",
                "namespaces/status",
                "nodes",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "pods",
                "pods/exec",
                "pods/log",
                "pods/portforward",
                "pods/status",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "replicationcontrollers/status",
                "secrets",
                "serviceaccounts",
                "services",
                "services/status",
            ]
        );
        let ns = &list["resources"][3];
        assert_eq!(ns["namespaced"], false);
        assert!(
            !ns["verbs"]
                .as_array()
                .unwrap()
                .contains(&json!("deletecollection"))
        );
        assert_eq!(ns["shortNames"], json!(["ns"]));
        assert!(ns.get("categories").is_none());
        assert_eq!(list["resources"][8]["categories"], json!(["all"]));
        assert!(
            list["resources"][0].get("categories").is_none(),
            "configmaps are not in `all`"
        );
    }
}
