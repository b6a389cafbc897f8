//! The defaults the Kubernetes API server fills into what it is sent, so that stored objects read
//! the same as in a cluster (`replicas: 1`, `restartPolicy: Always`, `imagePullPolicy`...), and the
//! status a new object starts with.

use serde_json::{Map, Value, json};

use crate::image::VersionRequest;
use crate::kube::kinds::Kind;

/// Fills in the fields Kubernetes defaults; values already given are kept, and anything of an
/// unexpected shape is left alone for the validation to report.
pub fn apply(kind: Kind, object: &mut Value) {
    match kind {
        Kind::Pod => {
            if let Some(spec) = object.get_mut("spec") {
                pod_spec(spec);
            }
        }
        Kind::ReplicationController => replication_controller(object),
        Kind::ReplicaSet => workload(object, false),
        Kind::Deployment => {
            workload(object, false);
            deployment(object);
        }
        Kind::Job => job(object),
        Kind::Service => service(object),
        Kind::Secret => secret(object),
        Kind::PersistentVolumeClaim => claim(object),
        Kind::Namespace
        | Kind::ConfigMap
        | Kind::ServiceAccount
        | Kind::Event
        | Kind::Endpoints
        | Kind::EndpointSlice => {}
    }
}

/// The status an object has when it is created: whatever the client sent is dropped. A claim is
/// Bound at once, to a folder of its own with the capacity it asked for.
pub fn initial_status(kind: Kind, object: &Value) -> Value {
    match kind {
        Kind::PersistentVolumeClaim => json!({
            "phase": "Bound",
            "accessModes": object.pointer("/spec/accessModes").cloned().unwrap_or_else(|| json!(["ReadWriteOnce"])),
            "capacity": object.pointer("/spec/resources/requests").cloned().unwrap_or_else(|| json!({})),
        }),
        Kind::ConfigMap
        | Kind::Secret
        | Kind::ServiceAccount
        | Kind::Event
        | Kind::Endpoints
        | Kind::EndpointSlice => Value::Null,
        Kind::Pod => json!({"phase": "Pending"}),
        Kind::ReplicationController | Kind::ReplicaSet => json!({"replicas": 0}),
        Kind::Deployment | Kind::Job => json!({}),
        Kind::Service => json!({"loadBalancer": {}}),
        Kind::Namespace => json!({"phase": "Active"}),
    }
}

fn set_default(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_owned(), value);
    }
}

fn pod_spec(spec: &mut Value) {
    let Some(spec) = spec.as_object_mut() else {
        return;
    };
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    for list in ["containers", "initContainers"] {
        let Some(Value::Array(containers)) = spec.get_mut(list) else {
            continue;
        };
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(policy) = c.get("image").and_then(Value::as_str).and_then(pull_policy) {
                set_default(c, "imagePullPolicy", json!(policy));
            }
            if let Some(Value::Array(ports)) = c.get_mut("ports") {
                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                    set_default(p, "protocol", json!("TCP"));
                }
            }
        }
    }
}

/// `Always` for an image with no tag or `latest`, `IfNotPresent` otherwise, as Kubernetes has it
/// (Maven's floating `RELEASE` and `LATEST` count as `latest`). `None` for a name that does not
/// parse, which the validation reports.
fn pull_policy(image: &str) -> Option<&'static str> {
    let parsed = crate::image::parse(image, crate::image::DEFAULT_GROUP_PREFIX).ok()?;
    Some(match parsed.version {
        VersionRequest::NewestRelease | VersionRequest::Latest => "Always",
        VersionRequest::Snapshot(_) | VersionRequest::Exact(_) => "IfNotPresent",
    })
}

fn replication_controller(object: &mut Value) {
    let template_labels = object
        .pointer("/spec/template/metadata/labels")
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
        .cloned();
    if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
        set_default(spec, "replicas", json!(1));
        if let Some(labels) = &template_labels {
            let empty = spec
                .get("selector")
                .is_none_or(|s| s.as_object().is_none_or(Map::is_empty));
            if empty {
                spec.insert("selector".into(), labels.clone());
            }
        }
        if let Some(template_spec) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
            pod_spec(template_spec);
        }
    }
    // An RC without labels of its own takes its template's.
    if let (Some(labels), Some(meta)) = (
        template_labels,
        object.get_mut("metadata").and_then(Value::as_object_mut),
    ) {
        let empty = meta
            .get("labels")
            .is_none_or(|l| l.as_object().is_none_or(Map::is_empty));
        if empty {
            meta.insert("labels".into(), labels);
        }
    }
}

/// ReplicaSets and Deployments: one replica unless told, the template's pod defaults, and the
/// object's labels from its template's when it has none.
fn workload(object: &mut Value, is_job: bool) {
    let template_labels = object
        .pointer("/spec/template/metadata/labels")
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
        .cloned();
    if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
        if !is_job {
            set_default(spec, "replicas", json!(1));
            set_default(spec, "minReadySeconds", json!(0));
        }
        if let Some(template_spec) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
            pod_spec(template_spec);
        }
    }
    if let (Some(labels), Some(meta)) = (
        template_labels,
        object.get_mut("metadata").and_then(Value::as_object_mut),
    ) {
        let empty = meta
            .get("labels")
            .is_none_or(|l| l.as_object().is_none_or(Map::is_empty));
        if empty && !is_job {
            meta.insert("labels".into(), labels);
        }
    }
}

/// RollingUpdate with 25%/25%, ten old ReplicaSets kept, ten minutes to progress.
fn deployment(object: &mut Value) {
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "progressDeadlineSeconds", json!(600));
    set_default(spec, "strategy", json!({"type": "RollingUpdate"}));
    if let Some(strategy) = spec.get_mut("strategy").and_then(Value::as_object_mut) {
        set_default(strategy, "type", json!("RollingUpdate"));
        if strategy.get("type") == Some(&json!("RollingUpdate")) {
            set_default(strategy, "rollingUpdate", json!({}));
            if let Some(r) = strategy.get_mut("rollingUpdate").and_then(Value::as_object_mut) {
                set_default(r, "maxSurge", json!("25%"));
                set_default(r, "maxUnavailable", json!("25%"));
            }
        }
    }
}

/// A Job: one pod to completion unless told, six retries, and a selector of its own name's label
/// (Kubernetes uses the uid; the name is as unique within a namespace, and known before the uid).
fn job(object: &mut Value) {
    workload(object, true);
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if spec.get("completions").is_none_or(Value::is_null)
        && spec.get("parallelism").is_none_or(Value::is_null)
    {
        spec.insert("completions".into(), json!(1));
    }
    set_default(spec, "parallelism", json!(1));
    set_default(spec, "backoffLimit", json!(6));
    set_default(spec, "completionMode", json!("NonIndexed"));
    set_default(spec, "suspend", json!(false));
    if !name.is_empty() {
        let labels = json!({JOB_NAME_LABEL: name.clone(), "job-name": name});
        set_default(spec, "selector", json!({"matchLabels": {JOB_NAME_LABEL: name}}));
        if let Some(template) = spec.get_mut("template").and_then(Value::as_object_mut) {
            let meta = template.entry("metadata").or_insert_with(|| json!({}));
            if let Some(meta) = meta.as_object_mut() {
                let l = meta.entry("labels").or_insert_with(|| json!({}));
                if let (Some(l), Some(add)) = (l.as_object_mut(), labels.as_object()) {
                    for (k, v) in add {
                        l.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
        }
    }
}

/// The label a Job's pods carry, and its selector matches.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";

/// `type: Opaque` unless told, and `stringData` merged into `data` as base64 (its values win), as
/// the API server does: `stringData` is write-only and never stored.
fn secret(object: &mut Value) {
    use base64::Engine as _;
    let Some(map) = object.as_object_mut() else {
        return;
    };
    set_default(map, "type", json!("Opaque"));
    let Some(Value::Object(strings)) = map.remove("stringData") else {
        return;
    };
    let data = map.entry("data").or_insert_with(|| json!({}));
    if data.is_null() {
        *data = json!({});
    }
    if let Some(data) = data.as_object_mut() {
        for (k, v) in strings {
            let text = v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
            data.insert(k, json!(base64::engine::general_purpose::STANDARD.encode(text)));
        }
    }
}

/// A claim binds at once to a volume of its own, named as Kubernetes names dynamic volumes.
fn claim(object: &mut Value) {
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    set_default(spec, "accessModes", json!(["ReadWriteOnce"]));
    set_default(spec, "volumeMode", json!("Filesystem"));
    set_default(spec, "storageClassName", json!("jube-local"));
    let b: [u8; 16] = rand::random();
    set_default(spec, "volumeName", json!(format!("pvc-{}", hex::encode(b))));
}

fn service(object: &mut Value) {
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    set_default(spec, "type", json!("ClusterIP"));
    set_default(spec, "sessionAffinity", json!("None"));
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_default(p, "protocol", json!("TCP"));
            if let Some(port) = p.get("port").cloned() {
                set_default(p, "targetPort", port);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rc_defaults_come_from_its_template() {
        let mut rc = json!({
            "metadata": {"name": "web"},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                "containers": [{"name": "web", "image": "fabric8/java", "ports": [{"containerPort": 8080}]},
                               {"name": "pinned", "image": "fabric8/java:1.2", "imagePullPolicy": "Never"},
                               {"name": "tagged", "image": "fabric8/java:1.2"},
                               {"name": "latest", "image": "localhost:5000/fabric8/java:latest"}]}}}
        });
        apply(Kind::ReplicationController, &mut rc);
        assert_eq!(rc["spec"]["replicas"], 1);
        assert_eq!(rc["spec"]["selector"], json!({"app": "web"}));
        assert_eq!(rc["metadata"]["labels"], json!({"app": "web"}));
        let spec = &rc["spec"]["template"]["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        let policies: Vec<_> = spec["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["imagePullPolicy"].as_str().unwrap())
            .collect();
        assert_eq!(policies, ["Always", "Never", "IfNotPresent", "Always"]);
        assert_eq!(spec["containers"][0]["ports"][0]["protocol"], "TCP");
    }

    #[test]
    fn given_values_are_kept_and_odd_shapes_left_alone() {
        let mut rc = json!({"metadata": {"name": "x", "labels": {"own": "yes"}},
            "spec": {"replicas": 0, "selector": {"app": "x"}, "template": {"metadata": {"labels": {"app": "x", "v": "1"}}}}});
        apply(Kind::ReplicationController, &mut rc);
        assert_eq!(rc["spec"]["replicas"], 0);
        assert_eq!(rc["spec"]["selector"], json!({"app": "x"}));
        assert_eq!(rc["metadata"]["labels"], json!({"own": "yes"}));
        let mut odd = json!({"spec": "text"});
        apply(Kind::Pod, &mut odd);
        apply(Kind::Service, &mut odd);
        assert_eq!(odd, json!({"spec": "text"}));
        let mut svc = json!({"spec": {"ports": [{"port": 80}, {"port": 81, "targetPort": "http"}]}});
        apply(Kind::Service, &mut svc);
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(svc["spec"]["ports"][1]["targetPort"], "http");
        assert_eq!(svc["spec"]["type"], "ClusterIP");
    }
}
