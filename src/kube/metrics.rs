//! `metrics.k8s.io/v1beta1` objects, as metrics-server writes them: a pod's figures are its
//! containers', each the sum over that container's whole process tree, and the node's are the
//! machine's.

use std::time::Duration;

use serde_json::{Value, json};

use crate::container::state::{POD_LABEL, State};
use crate::container::usage::{Reading, Usage, cpu_quantity, memory_quantity};
use crate::kube::pods::{CONTAINER_LABEL, POD_UID_LABEL};

pub const GROUP_VERSION: &str = "metrics.k8s.io/v1beta1";

fn window(reading: &Reading) -> String {
    format!("{}ms", reading.window.unwrap_or(Duration::ZERO).as_millis())
}

fn timestamp(reading: &Reading) -> String {
    reading.at.unwrap_or_else(jiff::Timestamp::now).to_string()
}

fn usage(u: &Usage) -> Value {
    json!({
        "cpu": cpu_quantity(u.cpu_cores.unwrap_or(0.0)),
        "memory": memory_quantity(u.memory_bytes),
    })
}

/// The running jube containers of `pod` (this incarnation of it: a recreated pod has a new uid),
/// with the name of the pod's container each runs.
pub fn containers_of<'a>(pod: &Value, states: &'a [State]) -> Vec<(&'a str, &'a State)> {
    let text = |p: &str| pod.pointer(p).and_then(Value::as_str).unwrap_or_default();
    let key = format!("{}/{}", text("/metadata/namespace"), text("/metadata/name"));
    let uid = text("/metadata/uid");
    states
        .iter()
        .filter(|s| s.labels.get(POD_LABEL) == Some(&key))
        .filter(|s| uid.is_empty() || s.labels.get(POD_UID_LABEL).is_none_or(|u| u == uid))
        .filter_map(|s| Some((s.labels.get(CONTAINER_LABEL)?.as_str(), s)))
        .collect()
}

/// The PodMetrics of `pod`, or `None` while none of its containers runs (metrics-server has no
/// figures for such a pod either).
pub fn pod_metrics(pod: &Value, states: &[State], reading: &Reading) -> Option<Value> {
    let containers: Vec<Value> = containers_of(pod, states)
        .into_iter()
        .filter_map(|(name, s)| {
            let u = reading.containers.get(&s.id)?;
            Some(json!({"name": name, "usage": usage(u)}))
        })
        .collect();
    if containers.is_empty() {
        return None;
    }
    let meta = pod.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut metadata = json!({
        "name": meta["name"],
        "namespace": meta["namespace"],
        "creationTimestamp": timestamp(reading),
    });
    if let Some(labels) = meta.get("labels") {
        metadata["labels"] = labels.clone();
    }
    Some(json!({
        "kind": "PodMetrics",
        "apiVersion": GROUP_VERSION,
        "metadata": metadata,
        "timestamp": timestamp(reading),
        "window": window(reading),
        "containers": containers,
    }))
}

/// The NodeMetrics of the machine, as node `node` (its object, for the name and labels).
pub fn node_metrics(node: &Value, reading: &Reading) -> Value {
    let m = &reading.machine;
    let mut metadata = json!({
        "name": node.pointer("/metadata/name").cloned().unwrap_or_default(),
        "creationTimestamp": timestamp(reading),
    });
    if let Some(labels) = node.pointer("/metadata/labels") {
        metadata["labels"] = labels.clone();
    }
    json!({
        "kind": "NodeMetrics",
        "apiVersion": GROUP_VERSION,
        "metadata": metadata,
        "timestamp": timestamp(reading),
        "window": window(reading),
        "usage": {
            "cpu": cpu_quantity(m.cpu_cores.unwrap_or(0.0)),
            "memory": memory_quantity(m.memory_bytes),
        },
    })
}

pub fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({
        "kind": kind,
        "apiVersion": GROUP_VERSION,
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn state(id: &str, pod: &str, uid: &str, container: &str) -> State {
        let mut s: State = serde_json::from_value(json!({
            "version": crate::layout::FORMAT_VERSION, "id": id, "name": id, "image": "x",
            "coordinates": {"group_id": "g", "artifact_id": "a", "version": "1", "extension": "zip", "classifier": "image"},
            "image_path": "/x.zip", "app_base": "root", "launch": "run_script",
            "created": "2026-01-01T00:00:00Z", "status": "running"
        }))
        .unwrap();
        s.labels.insert(POD_LABEL.into(), pod.into());
        s.labels.insert(POD_UID_LABEL.into(), uid.into());
        s.labels.insert(CONTAINER_LABEL.into(), container.into());
        s
    }

    #[test]
    fn a_pods_metrics_are_its_containers_of_this_incarnation() {
        let states = [
            state("c1", "default/web", "u1", "app"),
            state("c2", "default/web", "u1", "sidecar"),
            state("c3", "default/web", "old", "app"),
            state("c4", "dev/web", "u9", "app"),
        ];
        let reading = Reading {
            containers: HashMap::from([
                (
                    "c1".into(),
                    Usage {
                        cpu_cores: Some(0.25),
                        memory_bytes: 4096,
                        processes: 2,
                    },
                ),
                (
                    "c2".into(),
                    Usage {
                        cpu_cores: Some(0.0),
                        memory_bytes: 1024,
                        processes: 1,
                    },
                ),
            ]),
            window: Some(Duration::from_millis(1500)),
            ..Reading::default()
        };
        let pod = json!({"metadata": {"name": "web", "namespace": "default", "uid": "u1", "labels": {"app": "web"}}});
        let m = pod_metrics(&pod, &states, &reading).unwrap();
        assert_eq!(m["kind"], "PodMetrics");
        assert_eq!(m["window"], "1500ms");
        assert_eq!(m["metadata"]["labels"]["app"], "web");
        assert_eq!(
            m["containers"],
            json!([{"name": "app", "usage": {"cpu": "250m", "memory": "4Ki"}},
                   {"name": "sidecar", "usage": {"cpu": "0m", "memory": "1Ki"}}])
        );
        let idle = json!({"metadata": {"name": "db", "namespace": "default", "uid": "u2"}});
        assert!(pod_metrics(&idle, &states, &reading).is_none());
    }
}
