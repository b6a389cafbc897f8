//! Endpoints and EndpointSlices: each Service's ready pods, as `kubectl get endpoints` and
//! `kubectl describe svc` show them. Every pod answers on 127.0.0.1 at the host port jube leased
//! it, and the pods of one Service have different host ports, so each pod is a subset (a slice)
//! of its own: a subset's addresses share one list of ports.
//!
//! Only Services with a selector get them: those without one are given theirs by their user, as
//! in Kubernetes. Objects the controller writes carry [`MANAGED_BY`], and only those it removes.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::kube::kinds::Kind;
use crate::kube::reconcile::{self, Observed};
use crate::kube::services;
use crate::kube::store::{Store, StoreError};

/// The label marking the Endpoints and EndpointSlices the controller keeps.
pub const MANAGED_BY: (&str, &str) = ("endpointslice.kubernetes.io/managed-by", "jube.io");
/// The label naming an EndpointSlice's Service.
pub const SERVICE_NAME: &str = "kubernetes.io/service-name";
/// Where pods answer: jube runs them on this machine's loopback.
pub const POD_ADDRESS: &str = "127.0.0.1";

/// An object the controller wants in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    pub object: Value,
}

/// The Endpoints and EndpointSlices of every Service with a selector.
pub fn desired(services: &[Value], pods: &[Value], observed: &[Observed]) -> Vec<Wanted> {
    services
        .iter()
        .filter(|svc| has_selector(svc))
        .flat_map(|svc| of_service(svc, pods, observed))
        .collect()
}

fn has_selector(svc: &Value) -> bool {
    svc.pointer("/spec/selector")
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty())
}

fn of_service(svc: &Value, pods: &[Value], observed: &[Observed]) -> Vec<Wanted> {
    let namespace = reconcile::str_at(svc, "/metadata/namespace").unwrap_or("default");
    let name = reconcile::str_at(svc, "/metadata/name").unwrap_or_default();
    let members: Vec<(&Value, Vec<Value>)> = services::ready_selected(svc, pods)
        .into_iter()
        .filter_map(|pod| {
            let ports = pod_ports(svc, pod, observed);
            (!ports.is_empty()).then_some((pod, ports))
        })
        .collect();
    let mut labels: BTreeMap<String, Value> = svc
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    labels.insert(MANAGED_BY.0.into(), json!(MANAGED_BY.1));
    let owner = json!([{
        "apiVersion": "v1", "kind": "Service", "name": name,
        "uid": reconcile::str_at(svc, "/metadata/uid").unwrap_or_default(),
        "controller": true, "blockOwnerDeletion": true,
    }]);
    let meta = |object_name: &str, labels: &BTreeMap<String, Value>| json!({"name": object_name, "namespace": namespace, "labels": labels, "ownerReferences": owner});
    let subsets: Vec<Value> = members
        .iter()
        .map(|(pod, ports)| json!({"addresses": [address(pod)], "ports": ports}))
        .collect();
    let mut endpoints = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": meta(name, &labels)});
    if !subsets.is_empty() {
        endpoints["subsets"] = json!(subsets);
    }
    let mut out = vec![Wanted {
        kind: Kind::Endpoints,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        object: endpoints,
    }];
    labels.insert(SERVICE_NAME.into(), json!(name));
    let slice = |slice_name: String, endpoints: Value, ports: Value| Wanted {
        kind: Kind::EndpointSlice,
        namespace: namespace.to_owned(),
        name: slice_name.clone(),
        object: json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": meta(&slice_name, &labels),
            "addressType": "IPv4", "endpoints": endpoints, "ports": ports,
        }),
    };
    if members.is_empty() {
        out.push(slice(name.to_owned(), json!([]), json!([])));
    }
    for (pod, ports) in &members {
        let pod_name = reconcile::str_at(pod, "/metadata/name").unwrap_or_default();
        let endpoint = json!({
            "addresses": [POD_ADDRESS],
            "conditions": {"ready": true, "serving": true, "terminating": false},
            "targetRef": target_ref(pod),
        });
        out.push(slice(
            format!("{name}-{pod_name}"),
            json!([endpoint]),
            json!(ports),
        ));
    }
    out
}

/// The Service's ports as `pod` serves them: each one's name, the pod's host port, the protocol.
fn pod_ports(svc: &Value, pod: &Value, observed: &[Observed]) -> Vec<Value> {
    svc.pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let target = p.get("targetPort").or_else(|| p.get("port"))?;
            let host = services::backend(pod, target, observed)?;
            let mut port = json!({
                "port": host.port(),
                "protocol": p.get("protocol").and_then(Value::as_str).unwrap_or("TCP"),
            });
            if let Some(name) = p.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                port["name"] = json!(name);
            }
            Some(port)
        })
        .collect()
}

fn target_ref(pod: &Value) -> Value {
    json!({
        "kind": "Pod",
        "namespace": reconcile::str_at(pod, "/metadata/namespace").unwrap_or("default"),
        "name": reconcile::str_at(pod, "/metadata/name").unwrap_or_default(),
        "uid": reconcile::str_at(pod, "/metadata/uid").unwrap_or_default(),
    })
}

fn address(pod: &Value) -> Value {
    json!({"ip": POD_ADDRESS, "targetRef": target_ref(pod)})
}

/// Brings the Endpoints and EndpointSlices in `store` to each Service's ready pods: creates and
/// updates what [`desired`] asks for, removes the managed ones it no longer asks for.
pub fn sync(
    store: &Store,
    services: &[Value],
    pods: &[Value],
    observed: &[Observed],
) -> Result<(), StoreError> {
    let wanted = desired(services, pods, observed);
    for kind in [Kind::Endpoints, Kind::EndpointSlice] {
        let (current, _) = store.list(kind, None)?;
        // A pass that changed many endpoints writes them in one transaction.
        store.batch(|b| {
            let find = |ns: &str, name: &str| {
                current.iter().find(|c| {
                    reconcile::str_at(c, "/metadata/namespace") == Some(ns)
                        && reconcile::str_at(c, "/metadata/name") == Some(name)
                })
            };
            for w in wanted.iter().filter(|w| w.kind == kind) {
                let written = match find(&w.namespace, &w.name) {
                    None => b.create(kind, &w.namespace, w.object.clone()),
                    // Endpoints a user wrote for a Service that now selects pods become ours.
                    Some(c) if content(c) != content(&w.object) => {
                        b.update(kind, &w.namespace, updated(c, &w.object), None)
                    }
                    Some(_) => continue,
                };
                match written {
                    Ok(_) | Err(StoreError::AlreadyExists { .. } | StoreError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            for c in current.iter().filter(|c| is_managed(c)) {
                let ns = reconcile::str_at(c, "/metadata/namespace").unwrap_or_default();
                let name = reconcile::str_at(c, "/metadata/name").unwrap_or_default();
                let still = wanted
                    .iter()
                    .any(|w| w.kind == kind && w.namespace == ns && w.name == name);
                if !still {
                    match b.delete(kind, ns, name) {
                        Ok(_) | Err(StoreError::NotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Whether `object` is one the controller keeps.
pub fn is_managed(object: &Value) -> bool {
    object
        .pointer("/metadata/labels")
        .and_then(|l| l.get(MANAGED_BY.0))
        .and_then(Value::as_str)
        == Some(MANAGED_BY.1)
}

/// What the controller writes of an object; the rest (uid, versions) is the store's.
pub fn content(object: &Value) -> Value {
    let field = |f: &str| object.get(f).cloned().unwrap_or(Value::Null);
    json!([
        object.pointer("/metadata/labels").cloned().unwrap_or(Value::Null),
        object
            .pointer("/metadata/ownerReferences")
            .cloned()
            .unwrap_or(Value::Null),
        field("subsets"),
        field("endpoints"),
        field("ports"),
        field("addressType"),
    ])
}

/// `current` with what the controller writes taken from `wanted`.
pub fn updated(current: &Value, wanted: &Value) -> Value {
    let mut object = current.clone();
    for field in ["subsets", "endpoints", "ports", "addressType"] {
        match (wanted.get(field), object.as_object_mut()) {
            (Some(v), Some(map)) => {
                map.insert(field.into(), v.clone());
            }
            (None, Some(map)) => {
                map.remove(field);
            }
            _ => {}
        }
    }
    for field in ["labels", "ownerReferences"] {
        if let (Some(v), Some(meta)) = (
            wanted.pointer(&format!("/metadata/{field}")),
            object.get_mut("metadata").and_then(Value::as_object_mut),
        ) {
            meta.insert(field.into(), v.clone());
        }
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ready: bool) -> Value {
        json!({
            "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"), "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}
        })
    }

    fn observed(name: &str, host: u16) -> Observed {
        Observed::running_web("shop", name, &format!("uid-{name}"), host)
    }

    fn svc() -> Value {
        json!({"metadata": {"name": "web", "namespace": "shop", "uid": "svc-uid", "labels": {"tier": "front"}},
               "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
    }

    #[test]
    fn ready_pods_are_listed_with_their_host_ports_one_subset_each() {
        let pods = [pod("a", true), pod("b", false), pod("c", true)];
        let seen = [observed("a", 48000), observed("b", 48001), observed("c", 48002)];
        let wanted = desired(&[svc()], &pods, &seen);
        let endpoints = &wanted[0];
        assert_eq!(
            (endpoints.kind, endpoints.name.as_str()),
            (Kind::Endpoints, "web")
        );
        let subsets = &endpoints.object["subsets"];
        assert_eq!(subsets.as_array().unwrap().len(), 2);
        assert_eq!(subsets[0]["addresses"][0]["ip"], "127.0.0.1");
        assert_eq!(subsets[0]["addresses"][0]["targetRef"]["name"], "a");
        assert_eq!(
            subsets[0]["ports"],
            json!([{"name": "http", "port": 48000, "protocol": "TCP"}])
        );
        assert_eq!(subsets[1]["ports"][0]["port"], 48002);
        assert!(is_managed(&endpoints.object));
        assert_eq!(endpoints.object["metadata"]["labels"]["tier"], "front");
        // Valid Kubernetes: the typed objects hold all of it.
        let typed: k8s_openapi::api::core::v1::Endpoints =
            serde_json::from_value(endpoints.object.clone()).unwrap();
        assert_eq!(serde_json::to_value(typed).unwrap(), endpoints.object);
        let slices: Vec<&Wanted> = wanted.iter().filter(|w| w.kind == Kind::EndpointSlice).collect();
        assert_eq!(
            slices.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["web-a", "web-c"]
        );
        assert_eq!(slices[0].object["metadata"]["labels"][SERVICE_NAME], "web");
        let typed: k8s_openapi::api::discovery::v1::EndpointSlice =
            serde_json::from_value(slices[1].object.clone()).unwrap();
        assert_eq!(serde_json::to_value(typed).unwrap(), slices[1].object);
    }

    #[test]
    fn no_ready_pod_leaves_empty_objects_and_no_selector_none() {
        let wanted = desired(&[svc()], &[pod("b", false)], &[observed("b", 48001)]);
        assert_eq!(wanted.len(), 2);
        assert!(wanted[0].object.get("subsets").is_none());
        assert_eq!(wanted[1].name, "web");
        assert_eq!(wanted[1].object["endpoints"], json!([]));
        let bare =
            json!({"metadata": {"name": "ext", "namespace": "shop"}, "spec": {"ports": [{"port": 80}]}});
        assert!(desired(&[bare], &[pod("a", true)], &[observed("a", 1)]).is_empty());
    }

    #[test]
    fn an_update_takes_the_written_fields_and_keeps_the_store_s() {
        let current = json!({"metadata": {"name": "web", "uid": "u", "resourceVersion": "7", "labels": {}},
                             "subsets": [{"addresses": []}]});
        let wanted = json!({"metadata": {"name": "web", "labels": {"x": "y"}}});
        let next = updated(&current, &wanted);
        assert_eq!(next["metadata"]["uid"], "u");
        assert_eq!(next["metadata"]["labels"], json!({"x": "y"}));
        assert!(next.get("subsets").is_none());
        assert_eq!(content(&next), content(&wanted));
    }
}
