//! Request bodies in Kubernetes' protobuf encoding, turned into the JSON the rest of the API reads.
//!
//! kubectl's typed commands (`kubectl create namespace`, `kubectl create service`) send their
//! objects as protobuf and do not fall back to JSON, so the API reads the kinds those commands make.
//! The encoding is the `k8s\0` magic followed by a `runtime.Unknown` envelope whose `raw` field
//! holds the object; k8s-pb has the message types, prost decodes them.

use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::batch::v1 as batch;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{Map, Value, json};

pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The kinds read from protobuf, for messages.
pub const READ_KINDS: &str = "v1 Namespace, v1 Service, v1 ConfigMap, v1 Secret, v1 ServiceAccount, apps/v1 Deployment and batch/v1 Job";

const MAGIC: &[u8] = b"k8s\0";

/// What is wrong with a protobuf body.
#[derive(Debug, PartialEq, Eq)]
pub enum ProtobufError {
    /// Not protobuf as Kubernetes frames it, or not a message of the kind it claims.
    Malformed(String),
    /// Well-formed, but of a kind jube reads only as JSON.
    UnreadKind(String),
}

/// The object in a protobuf body, as the JSON a client would have sent for it.
pub fn object_json(body: &[u8]) -> Result<Value, ProtobufError> {
    use ProtobufError::Malformed;
    let framed = body.strip_prefix(MAGIC).ok_or_else(|| {
        Malformed("it does not start with the `k8s\\0` magic of Kubernetes protobuf".into())
    })?;
    let envelope =
        Unknown::decode(framed).map_err(|e| Malformed(format!("the envelope does not decode: {e}")))?;
    if let Some(encoding) = envelope.content_encoding.as_deref().filter(|e| !e.is_empty()) {
        return Err(Malformed(format!(
            "its content encoding `{encoding}` is not supported"
        )));
    }
    let type_meta = envelope.type_meta.unwrap_or_default();
    let api_version = type_meta.api_version.unwrap_or_default();
    let kind = type_meta.kind.unwrap_or_default();
    if kind.is_empty() {
        return Err(Malformed("its envelope names no kind".into()));
    }
    let raw = envelope.raw.unwrap_or_default();
    let decode_failed = |e: prost::DecodeError| Malformed(format!("the {kind} does not decode: {e}"));
    let (metadata, mut object) = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => {
            let namespace = core::Namespace::decode(raw.as_slice()).map_err(decode_failed)?;
            let mut spec = Map::new();
            put(
                &mut spec,
                "finalizers",
                namespace.spec.unwrap_or_default().finalizers,
            );
            let mut object = Map::new();
            put(&mut object, "spec", spec);
            (namespace.metadata, object)
        }
        ("v1", "Service") => {
            let service = core::Service::decode(raw.as_slice()).map_err(decode_failed)?;
            let mut object = Map::new();
            object.insert("spec".into(), service_spec(service.spec.unwrap_or_default()));
            (service.metadata, object)
        }
        ("v1", "ConfigMap") => {
            let config = core::ConfigMap::decode(raw.as_slice()).map_err(decode_failed)?;
            let mut object = Map::new();
            put(&mut object, "data", json!(config.data));
            put(&mut object, "binaryData", base64_values(config.binary_data));
            put(&mut object, "immutable", config.immutable);
            (config.metadata, object)
        }
        ("v1", "Secret") => {
            let secret = core::Secret::decode(raw.as_slice()).map_err(decode_failed)?;
            let mut object = Map::new();
            put(&mut object, "type", secret.r#type);
            put(&mut object, "data", base64_values(secret.data));
            put(&mut object, "stringData", json!(secret.string_data));
            put(&mut object, "immutable", secret.immutable);
            (secret.metadata, object)
        }
        ("v1", "ServiceAccount") => {
            let account = core::ServiceAccount::decode(raw.as_slice()).map_err(decode_failed)?;
            let mut object = Map::new();
            put(
                &mut object,
                "automountServiceAccountToken",
                account.automount_service_account_token,
            );
            (account.metadata, object)
        }
        ("apps/v1", "Deployment") => {
            let deployment = apps::Deployment::decode(raw.as_slice()).map_err(decode_failed)?;
            let mut object = Map::new();
            object.insert(
                "spec".into(),
                deployment_spec(deployment.spec.unwrap_or_default()),
            );
            (deployment.metadata, object)
        }
        ("batch/v1", "Job") => {
            let job = batch::Job::decode(raw.as_slice()).map_err(decode_failed)?;
            let mut object = Map::new();
            object.insert("spec".into(), job_spec(job.spec.unwrap_or_default()));
            (job.metadata, object)
        }
        _ => {
            return Err(ProtobufError::UnreadKind(
                format!("{api_version} {kind}").trim().to_owned(),
            ));
        }
    };
    object.insert("apiVersion".into(), json!(api_version));
    object.insert("kind".into(), json!(kind));
    object.insert("metadata".into(), object_meta(metadata.unwrap_or_default()));
    Ok(Value::Object(object))
}

/// Bytes as JSON carries them: base64 strings.
fn base64_values(map: std::collections::BTreeMap<String, Vec<u8>>) -> Value {
    use base64::Engine as _;
    let encoded: Map<String, Value> = map
        .into_iter()
        .map(|(k, v)| (k, json!(base64::engine::general_purpose::STANDARD.encode(v))))
        .collect();
    Value::Object(encoded)
}

/// The fields of ObjectMeta a client sets; what the server sets (uid, timestamps, managed
/// fields) is the server's to fill.
fn object_meta(m: meta::ObjectMeta) -> Value {
    let mut out = Map::new();
    put(&mut out, "name", m.name);
    put(&mut out, "generateName", m.generate_name);
    put(&mut out, "namespace", m.namespace);
    put(&mut out, "resourceVersion", m.resource_version);
    put(&mut out, "labels", json!(m.labels));
    put(&mut out, "annotations", json!(m.annotations));
    put(&mut out, "finalizers", m.finalizers);
    let owners: Vec<Value> = m.owner_references.into_iter().map(owner_reference).collect();
    put(&mut out, "ownerReferences", owners);
    Value::Object(out)
}

fn owner_reference(o: meta::OwnerReference) -> Value {
    let mut out = Map::new();
    put(&mut out, "apiVersion", o.api_version);
    put(&mut out, "kind", o.kind);
    put(&mut out, "name", o.name);
    put(&mut out, "uid", o.uid);
    put(&mut out, "controller", o.controller);
    put(&mut out, "blockOwnerDeletion", o.block_owner_deletion);
    Value::Object(out)
}

fn service_spec(s: core::ServiceSpec) -> Value {
    let mut out = Map::new();
    let ports: Vec<Value> = s.ports.into_iter().map(service_port).collect();
    put(&mut out, "ports", ports);
    put(&mut out, "selector", json!(s.selector));
    put(&mut out, "clusterIP", s.cluster_ip);
    put(&mut out, "clusterIPs", s.cluster_ips);
    put(&mut out, "type", s.r#type);
    put(&mut out, "externalIPs", s.external_ips);
    put(&mut out, "sessionAffinity", s.session_affinity);
    put(&mut out, "loadBalancerIP", s.load_balancer_ip);
    put(
        &mut out,
        "loadBalancerSourceRanges",
        s.load_balancer_source_ranges,
    );
    put(&mut out, "externalName", s.external_name);
    put(&mut out, "externalTrafficPolicy", s.external_traffic_policy);
    put(&mut out, "healthCheckNodePort", s.health_check_node_port);
    put(
        &mut out,
        "publishNotReadyAddresses",
        s.publish_not_ready_addresses,
    );
    let timeout = s
        .session_affinity_config
        .and_then(|c| c.client_ip)
        .and_then(|c| c.timeout_seconds);
    put(
        &mut out,
        "sessionAffinityConfig",
        timeout.map(|t| json!({ "clientIP": { "timeoutSeconds": t } })),
    );
    put(&mut out, "ipFamilies", s.ip_families);
    put(&mut out, "ipFamilyPolicy", s.ip_family_policy);
    put(
        &mut out,
        "allocateLoadBalancerNodePorts",
        s.allocate_load_balancer_node_ports,
    );
    put(&mut out, "loadBalancerClass", s.load_balancer_class);
    put(&mut out, "internalTrafficPolicy", s.internal_traffic_policy);
    put(&mut out, "trafficDistribution", s.traffic_distribution);
    Value::Object(out)
}

fn service_port(p: core::ServicePort) -> Value {
    let mut out = Map::new();
    put(&mut out, "name", p.name);
    put(&mut out, "protocol", p.protocol);
    put(&mut out, "appProtocol", p.app_protocol);
    put(&mut out, "port", p.port);
    // A zero target port means "the same as port", which the defaults fill in.
    put(&mut out, "targetPort", p.target_port.map(int_or_string));
    put(&mut out, "nodePort", p.node_port);
    Value::Object(out)
}

/// What `kubectl create deployment` sets: replicas, selector, strategy and the pod template.
fn deployment_spec(s: apps::DeploymentSpec) -> Value {
    let mut out = Map::new();
    if let Some(r) = s.replicas {
        out.insert("replicas".into(), json!(r));
    }
    put(&mut out, "selector", s.selector.map(label_selector));
    put(&mut out, "template", s.template.map(pod_template));
    let strategy = s.strategy.unwrap_or_default();
    let mut st = Map::new();
    put(&mut st, "type", strategy.r#type);
    if let Some(r) = strategy.rolling_update {
        let mut ru = Map::new();
        put(&mut ru, "maxSurge", r.max_surge.map(int_or_string));
        put(&mut ru, "maxUnavailable", r.max_unavailable.map(int_or_string));
        put(&mut st, "rollingUpdate", Value::Object(ru));
    }
    put(&mut out, "strategy", Value::Object(st));
    put(&mut out, "minReadySeconds", s.min_ready_seconds);
    put(&mut out, "revisionHistoryLimit", s.revision_history_limit);
    put(&mut out, "paused", s.paused);
    put(&mut out, "progressDeadlineSeconds", s.progress_deadline_seconds);
    Value::Object(out)
}

/// What `kubectl create job` sets: the pod template and the counts.
fn job_spec(s: batch::JobSpec) -> Value {
    let mut out = Map::new();
    put(&mut out, "parallelism", s.parallelism);
    put(&mut out, "completions", s.completions);
    put(&mut out, "backoffLimit", s.backoff_limit);
    put(&mut out, "activeDeadlineSeconds", s.active_deadline_seconds);
    put(&mut out, "ttlSecondsAfterFinished", s.ttl_seconds_after_finished);
    put(&mut out, "selector", s.selector.map(label_selector));
    put(&mut out, "template", s.template.map(pod_template));
    Value::Object(out)
}

fn label_selector(l: meta::LabelSelector) -> Value {
    let mut out = Map::new();
    put(&mut out, "matchLabels", json!(l.match_labels));
    let expressions: Vec<Value> = l
        .match_expressions
        .into_iter()
        .map(|e| {
            let mut x = Map::new();
            put(&mut x, "key", e.key);
            put(&mut x, "operator", e.operator);
            put(&mut x, "values", e.values);
            Value::Object(x)
        })
        .collect();
    put(&mut out, "matchExpressions", expressions);
    Value::Object(out)
}

fn pod_template(t: core::PodTemplateSpec) -> Value {
    let mut out = Map::new();
    out.insert("metadata".into(), object_meta(t.metadata.unwrap_or_default()));
    let spec = t.spec.unwrap_or_default();
    let mut ps = Map::new();
    let containers: Vec<Value> = spec.containers.into_iter().map(container).collect();
    ps.insert("containers".into(), json!(containers));
    put(&mut ps, "restartPolicy", spec.restart_policy);
    put(
        &mut ps,
        "terminationGracePeriodSeconds",
        spec.termination_grace_period_seconds,
    );
    put(&mut ps, "activeDeadlineSeconds", spec.active_deadline_seconds);
    out.insert("spec".into(), Value::Object(ps));
    Value::Object(out)
}

fn container(c: core::Container) -> Value {
    let mut out = Map::new();
    put(&mut out, "name", c.name);
    put(&mut out, "image", c.image);
    put(&mut out, "command", c.command);
    put(&mut out, "args", c.args);
    put(&mut out, "workingDir", c.working_dir);
    put(&mut out, "imagePullPolicy", c.image_pull_policy);
    let ports: Vec<Value> = c
        .ports
        .into_iter()
        .map(|p| {
            let mut x = Map::new();
            put(&mut x, "name", p.name);
            put(&mut x, "containerPort", p.container_port);
            put(&mut x, "hostPort", p.host_port);
            put(&mut x, "protocol", p.protocol);
            Value::Object(x)
        })
        .collect();
    put(&mut out, "ports", ports);
    let env: Vec<Value> = c
        .env
        .into_iter()
        .map(|e| {
            let mut x = Map::new();
            put(&mut x, "name", e.name);
            put(&mut x, "value", e.value);
            Value::Object(x)
        })
        .collect();
    put(&mut out, "env", env);
    Value::Object(out)
}

/// Type 0 is a number, type 1 a string, as in `intstr.IntOrString`.
fn int_or_string(v: IntOrString) -> Value {
    match v.r#type {
        Some(1) => json!(v.str_val.unwrap_or_default()),
        _ => json!(v.int_val.unwrap_or_default()),
    }
}

/// Go writes every plain field, set or not, so a zero value (`""`, 0, false, an empty list or
/// map) is what JSON would have left out, and it is left out here too, as is an unset one.
fn put(out: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    let value = value.into();
    let zero = match &value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_i64() == Some(0),
        Value::Bool(b) => !b,
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
    };
    if !zero {
        out.insert(key.into(), value);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_pb::apimachinery::pkg::runtime::TypeMeta;

    use super::*;

    fn framed(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let envelope = Unknown {
            type_meta: Some(TypeMeta {
                api_version: Some(api_version.into()),
                kind: Some(kind.into()),
            }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        [MAGIC.to_vec(), envelope.encode_to_vec()].concat()
    }

    fn named(name: &str) -> Option<meta::ObjectMeta> {
        Some(meta::ObjectMeta {
            name: Some(name.into()),
            labels: BTreeMap::from([("team".into(), "a".into())]),
            creation_timestamp: Some(meta::Time::default()),
            ..Default::default()
        })
    }

    #[test]
    fn a_namespace_reads_as_its_json() {
        let namespace = core::Namespace {
            metadata: named("dev"),
            ..Default::default()
        };
        let body = framed("v1", "Namespace", namespace.encode_to_vec());
        assert_eq!(
            object_json(&body).unwrap(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev", "labels": {"team": "a"}}})
        );
    }

    #[test]
    fn a_service_keeps_its_ports_selector_and_type() {
        let service = core::Service {
            metadata: named("web"),
            spec: Some(core::ServiceSpec {
                ports: vec![
                    core::ServicePort {
                        name: Some("80-8080".into()),
                        protocol: Some("TCP".into()),
                        port: Some(80),
                        target_port: Some(IntOrString {
                            r#type: Some(0),
                            int_val: Some(8080),
                            str_val: None,
                        }),
                        node_port: Some(30080),
                        ..Default::default()
                    },
                    core::ServicePort {
                        port: Some(9000),
                        target_port: Some(IntOrString {
                            r#type: Some(1),
                            int_val: None,
                            str_val: Some("admin".into()),
                        }),
                        ..Default::default()
                    },
                ],
                selector: BTreeMap::from([("app".into(), "web".into())]),
                r#type: Some("NodePort".into()),
                ..Default::default()
            }),
            status: None,
        };
        let json = object_json(&framed("v1", "Service", service.encode_to_vec())).unwrap();
        assert_eq!(
            json["spec"],
            json!({
                "ports": [
                    {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080},
                    {"port": 9000, "targetPort": "admin"}
                ],
                "selector": {"app": "web"},
                "type": "NodePort"
            })
        );
        assert_eq!(json["metadata"]["name"], "web");
    }

    #[test]
    fn zero_values_go_writes_are_left_out_as_json_would() {
        let service = core::Service {
            metadata: Some(meta::ObjectMeta {
                name: Some("web".into()),
                generate_name: Some(String::new()),
                generation: Some(0),
                ..Default::default()
            }),
            spec: Some(core::ServiceSpec {
                ports: vec![core::ServicePort {
                    name: Some(String::new()),
                    port: Some(80),
                    target_port: Some(IntOrString {
                        r#type: Some(0),
                        int_val: Some(0),
                        str_val: Some(String::new()),
                    }),
                    node_port: Some(0),
                    ..Default::default()
                }],
                cluster_ip: Some(String::new()),
                health_check_node_port: Some(0),
                publish_not_ready_addresses: Some(false),
                ..Default::default()
            }),
            status: Some(core::ServiceStatus::default()),
        };
        let json = object_json(&framed("v1", "Service", service.encode_to_vec())).unwrap();
        assert_eq!(json["spec"], json!({"ports": [{"port": 80}]}));
        assert_eq!(json["metadata"], json!({"name": "web"}));
    }

    #[test]
    fn other_kinds_and_broken_bodies_are_refused_with_a_reason() {
        let pod = framed("v1", "Pod", core::Pod::default().encode_to_vec());
        assert_eq!(object_json(&pod), Err(ProtobufError::UnreadKind("v1 Pod".into())));
        for (body, needle) in [
            (b"{\"kind\":\"Namespace\"}".to_vec(), "magic"),
            ([MAGIC, &[0xff, 0xff][..]].concat(), "envelope"),
            (MAGIC.to_vec(), "no kind"),
            (
                framed("v1", "Namespace", vec![0x0a, 0x05, 0x01]),
                "Namespace does not decode",
            ),
        ] {
            match object_json(&body) {
                Err(ProtobufError::Malformed(why)) => assert!(why.contains(needle), "{why}"),
                other => panic!("{needle}: {other:?}"),
            }
        }
    }
}
