//! What `jube get` prints: kubectl's table columns per kind (pod STATUS derived as kubectl derives
//! it, AGE in kubectl's short units), and the `List` wrapper kubectl prints for `-o json|yaml`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::kube::kinds::Kind;

/// Headers and rows, ready to be aligned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// How a table is laid out.
#[derive(Debug, Clone)]
pub struct TableOptions {
    /// `-o wide`: the extra columns.
    pub wide: bool,
    /// `-A`: a NAMESPACE column first (never for namespaces themselves).
    pub namespace_column: bool,
    /// Several kinds in one listing (`get all`): names as `pod/web`.
    pub kind_prefix: bool,
    /// `--show-labels`: a LABELS column last.
    pub show_labels: bool,
    /// The moment ages are counted from.
    pub now: jiff::Timestamp,
}

impl Default for TableOptions {
    fn default() -> Self {
        Self {
            wide: false,
            namespace_column: false,
            kind_prefix: false,
            show_labels: false,
            now: jiff::Timestamp::now(),
        }
    }
}

const NONE: &str = "<none>";

/// `ip:port` of every address and port of an Endpoints, as kubectl shows them (three, then how
/// many more).
pub fn endpoints_cell(o: &Value) -> String {
    let all: Vec<String> = (o.get("subsets").and_then(Value::as_array).into_iter().flatten())
        .flat_map(|s| {
            let ports: Vec<u64> = (s.get("ports").and_then(Value::as_array).into_iter().flatten())
                .filter_map(|p| p.get("port").and_then(Value::as_u64))
                .collect();
            let ips: Vec<String> = (s.get("addresses").and_then(Value::as_array).into_iter().flatten())
                .filter_map(|a| a.get("ip").and_then(Value::as_str).map(str::to_owned))
                .collect();
            ips.into_iter()
                .flat_map(move |ip| ports.clone().into_iter().map(move |p| format!("{ip}:{p}")))
                .collect::<Vec<_>>()
        })
        .collect();
    match all.len() {
        0 => NONE.to_owned(),
        n if n > 3 => format!("{} + {} more...", all[..3].join(","), n - 3),
        _ => all.join(","),
    }
}

/// The table of `objects`, all of `kind`, with kubectl's columns.
pub fn table(kind: Kind, objects: &[Value], opts: &TableOptions) -> Table {
    let mut headers: Vec<&str> = match kind {
        Kind::Pod => vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        Kind::ReplicationController | Kind::ReplicaSet => vec!["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        Kind::Deployment => vec!["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        Kind::Job => vec!["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        Kind::Service => vec!["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        Kind::Namespace => vec!["NAME", "STATUS", "AGE"],
        Kind::ConfigMap => vec!["NAME", "DATA", "AGE"],
        Kind::Endpoints => vec!["NAME", "ENDPOINTS", "AGE"],
        Kind::EndpointSlice => vec!["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"],
        Kind::Event => vec!["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        Kind::Secret => vec!["NAME", "TYPE", "DATA", "AGE"],
        Kind::ServiceAccount => vec!["NAME", "SECRETS", "AGE"],
        Kind::PersistentVolumeClaim => vec![
            "NAME",
            "STATUS",
            "VOLUME",
            "CAPACITY",
            "ACCESS MODES",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "AGE",
        ],
    };
    if opts.wide {
        headers.extend(match kind {
            Kind::Pod => &["IP", "NODE"][..],
            Kind::ReplicationController | Kind::ReplicaSet | Kind::Deployment | Kind::Job => {
                &["CONTAINERS", "IMAGES", "SELECTOR"][..]
            }
            Kind::Service => &["SELECTOR"][..],
            Kind::PersistentVolumeClaim => &["VOLUMEMODE"][..],
            Kind::Event => &["SUBOBJECT", "SOURCE", "FIRST SEEN", "COUNT", "NAME"][..],
            Kind::Namespace
            | Kind::ConfigMap
            | Kind::Secret
            | Kind::ServiceAccount
            | Kind::Endpoints
            | Kind::EndpointSlice => &[][..],
        });
    }
    let namespace_column = opts.namespace_column && kind.namespaced();
    if namespace_column {
        headers.insert(0, "NAMESPACE");
    }
    if opts.show_labels {
        headers.push("LABELS");
    }
    let rows = objects
        .iter()
        .map(|o| {
            let mut row = row(kind, o, opts);
            if namespace_column {
                row.insert(0, text(o, "/metadata/namespace"));
            }
            if opts.show_labels {
                row.push(format_labels(o.pointer("/metadata/labels")));
            }
            row
        })
        .collect();
    Table {
        headers: headers.into_iter().map(str::to_owned).collect(),
        rows,
    }
}

fn row(kind: Kind, o: &Value, opts: &TableOptions) -> Vec<String> {
    let name = text(o, "/metadata/name");
    let name = if opts.kind_prefix {
        format!("{}/{name}", kind.singular())
    } else {
        name
    };
    let age = age(o.pointer("/metadata/creationTimestamp"), opts.now);
    match kind {
        Kind::Pod => {
            let mut row = vec![name, pod_ready(o), pod_status(o), pod_restarts(o, opts.now), age];
            if opts.wide {
                row.push(or_none(text(o, "/status/podIP")));
                row.push(or_none(text(o, "/spec/nodeName")));
            }
            row
        }
        Kind::ReplicationController | Kind::ReplicaSet | Kind::Deployment | Kind::Job => {
            let int = |p: &str, default: i64| o.pointer(p).and_then(Value::as_i64).unwrap_or(default);
            let mut row = match kind {
                Kind::Deployment => vec![
                    name,
                    format!("{}/{}", int("/status/readyReplicas", 0), int("/spec/replicas", 1)),
                    int("/status/updatedReplicas", 0).to_string(),
                    int("/status/availableReplicas", 0).to_string(),
                    age,
                ],
                Kind::Job => vec![
                    name,
                    job_status(o).to_owned(),
                    format!("{}/{}", int("/status/succeeded", 0), int("/spec/completions", 1)),
                    job_duration(o, opts.now),
                    age,
                ],
                _ => vec![
                    name,
                    int("/spec/replicas", 1).to_string(),
                    int("/status/replicas", 0).to_string(),
                    int("/status/readyReplicas", 0).to_string(),
                    age,
                ],
            };
            if opts.wide {
                let containers = template_containers(o);
                let field = |f: &str| {
                    containers
                        .iter()
                        .map(|c| c.get(f).and_then(Value::as_str).unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join(",")
                };
                row.push(field("name"));
                row.push(field("image"));
                row.push(selector_text(o.pointer("/spec/selector")));
            }
            row
        }
        Kind::Service => {
            let mut row = vec![
                name,
                service_type(o).to_owned(),
                or_none(text(o, "/spec/clusterIP")),
                service_external_ip(o),
                service_ports(o),
                age,
            ];
            if opts.wide {
                row.push(format_labels(o.pointer("/spec/selector")));
            }
            row
        }
        Kind::Namespace => {
            let status = text(o, "/status/phase");
            let status = if status.is_empty() {
                "Active".into()
            } else {
                status
            };
            vec![name, status, age]
        }
        Kind::Event => {
            let seen = |fields: &[&str]| {
                fields
                    .iter()
                    .find_map(|p| o.pointer(p).filter(|v| v.is_string()))
                    .map_or_else(
                        || "<unknown>".into(),
                        |v| crate::kube::table::age(Some(v), opts.now),
                    )
            };
            let object = format!(
                "{}/{}",
                text(o, "/involvedObject/kind").to_ascii_lowercase(),
                text(o, "/involvedObject/name")
            );
            let mut row = vec![
                seen(&["/lastTimestamp", "/eventTime", "/metadata/creationTimestamp"]),
                text(o, "/type"),
                text(o, "/reason"),
                object,
                text(o, "/message"),
            ];
            if opts.wide {
                row.push(text(o, "/involvedObject/fieldPath"));
                let source = text(o, "/source/component");
                let host = text(o, "/source/host");
                row.push(if host.is_empty() {
                    source
                } else {
                    format!("{source}, {host}")
                });
                row.push(seen(&["/firstTimestamp", "/eventTime"]));
                row.push(o.get("count").and_then(Value::as_u64).unwrap_or(1).to_string());
                row.push(name);
            }
            row
        }
        Kind::Endpoints => vec![name, endpoints_cell(o), age],
        Kind::EndpointSlice => {
            let ports: Vec<String> = (o.get("ports").and_then(Value::as_array).into_iter().flatten())
                .filter_map(|p| p.get("port").and_then(Value::as_u64))
                .map(|p| p.to_string())
                .collect();
            let addresses: Vec<String> = (o.get("endpoints").and_then(Value::as_array).into_iter().flatten())
                .flat_map(|e| e.get("addresses").and_then(Value::as_array).into_iter().flatten())
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            let unset = |v: Vec<String>| {
                if v.is_empty() {
                    "<unset>".to_owned()
                } else {
                    v.join(",")
                }
            };
            vec![name, text(o, "/addressType"), unset(ports), unset(addresses), age]
        }
        Kind::ConfigMap => {
            let count = |f: &str| o.get(f).and_then(Value::as_object).map_or(0, |m| m.len());
            vec![name, (count("data") + count("binaryData")).to_string(), age]
        }
        Kind::Secret => {
            let data = o.get("data").and_then(Value::as_object).map_or(0, |m| m.len());
            vec![name, text(o, "/type"), data.to_string(), age]
        }
        Kind::ServiceAccount => {
            let secrets = o.get("secrets").and_then(Value::as_array).map_or(0, Vec::len);
            vec![name, secrets.to_string(), age]
        }
        Kind::PersistentVolumeClaim => {
            let bound = text(o, "/status/phase") == "Bound";
            let capacity = o
                .pointer("/status/capacity/storage")
                .and_then(Value::as_str)
                .filter(|_| bound)
                .unwrap_or_default()
                .to_owned();
            let modes: Vec<&str> = o
                .pointer("/status/accessModes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|_| bound)
                .filter_map(Value::as_str)
                .map(|m| match m {
                    "ReadWriteOnce" => "RWO",
                    "ReadOnlyMany" => "ROX",
                    "ReadWriteMany" => "RWX",
                    "ReadWriteOncePod" => "RWOP",
                    other => other,
                })
                .collect();
            let mut row = vec![
                name,
                text(o, "/status/phase"),
                text(o, "/spec/volumeName"),
                capacity,
                modes.join(","),
                or_none(text(o, "/spec/storageClassName")),
                or_unset(text(o, "/spec/volumeAttributesClassName")),
                age,
            ];
            if opts.wide {
                row.push(text(o, "/spec/volumeMode"));
            }
            row
        }
    }
}

fn or_unset(s: String) -> String {
    if s.is_empty() { "<unset>".into() } else { s }
}

/// A Job's STATUS column, as kubectl 1.32 prints it.
fn job_status(o: &Value) -> &'static str {
    let has = |kind: &str| {
        o.pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == kind && c["status"] == "True"))
    };
    if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if o.pointer("/spec/suspend") == Some(&Value::Bool(true)) {
        "Suspended"
    } else {
        "Running"
    }
}

/// How long a Job ran: from its start to its completion, or to now.
fn job_duration(o: &Value, now: jiff::Timestamp) -> String {
    let at = |p: &str| {
        o.pointer(p)
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
    };
    match at("/status/startTime") {
        Some(start) => {
            let end = at("/status/completionTime").unwrap_or(now);
            human_duration(end.as_second() - start.as_second())
        }
        None => String::new(),
    }
}

/// A selector as kubectl prints it: a label map, or `matchLabels` and `matchExpressions`
/// (`app=web,tier in (a,b)`).
pub fn selector_text(selector: Option<&Value>) -> String {
    let Some(selector) = selector else {
        return NONE.into();
    };
    if selector.get("matchLabels").is_none() && selector.get("matchExpressions").is_none() {
        return format_labels(Some(selector));
    }
    let mut parts = Vec::new();
    if let Some(labels) = selector
        .get("matchLabels")
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
    {
        parts.push(format_labels(Some(labels)));
    }
    for e in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        parts.push(match e["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other}"),
        });
    }
    if parts.is_empty() {
        NONE.into()
    } else {
        parts.join(",")
    }
}

fn text(o: &Value, pointer: &str) -> String {
    o.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn or_none(s: String) -> String {
    if s.is_empty() { NONE.into() } else { s }
}

fn template_containers(rc: &Value) -> Vec<Value> {
    rc.pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// `app=web,tier=front`, keys sorted, as kubectl's `labels.FormatLabels`; `<none>` when empty.
pub fn format_labels(labels: Option<&Value>) -> String {
    let Some(map) = labels.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return NONE.into();
    };
    let sorted: BTreeMap<&String, &Value> = map.iter().collect();
    sorted
        .into_iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",")
}

/// kubectl's AGE: `45s`, `3m20s`, `17m`, `5h3m`, `2d4h`, `300d`, `3y10d`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return with_rest(minutes, "m", seconds % 60, "s");
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return with_rest(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return with_rest(days, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    if hours < 24 * 365 * 8 {
        return with_rest(days / 365, "y", days % 365, "d");
    }
    format!("{}y", days / 365)
}

fn with_rest(n: i64, unit: &str, rest: i64, rest_unit: &str) -> String {
    if rest == 0 {
        format!("{n}{unit}")
    } else {
        format!("{n}{unit}{rest}{rest_unit}")
    }
}

fn parse_time(value: Option<&Value>) -> Option<jiff::Timestamp> {
    value.and_then(Value::as_str).and_then(|s| s.parse().ok())
}

/// The age of an RFC 3339 timestamp at `now`; `<unknown>` without one, as kubectl shows.
pub fn age(timestamp: Option<&Value>, now: jiff::Timestamp) -> String {
    match parse_time(timestamp) {
        Some(t) => human_duration(now.duration_since(t).as_secs()),
        None => "<unknown>".into(),
    }
}

fn container_statuses(pod: &Value) -> Vec<Value> {
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// READY: ready containers out of the pod's containers, `1/2`.
pub fn pod_ready(pod: &Value) -> String {
    let total = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ready = container_statuses(pod)
        .iter()
        .filter(|c| {
            c.get("ready").and_then(Value::as_bool) == Some(true) && c.pointer("/state/running").is_some()
        })
        .count();
    format!("{ready}/{total}")
}

/// STATUS as kubectl derives it: the phase (or the pod's reason), overridden by a container's
/// waiting or terminated reason (`CrashLoopBackOff`, `ContainerCreating`, `Completed`, `Error`),
/// `Terminating` once deletion started.
pub fn pod_status(pod: &Value) -> String {
    let mut reason = text(pod, "/status/phase");
    if reason.is_empty() {
        reason = "Pending".into();
    }
    let pod_reason = text(pod, "/status/reason");
    if !pod_reason.is_empty() {
        reason = pod_reason.clone();
    }
    if pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        return "Terminating".into();
    }
    if let Some(init) = init_reason(pod) {
        return init;
    }
    let mut has_running = false;
    // kubectl walks the containers from the last, so the first container's state wins.
    for c in container_statuses(pod).iter().rev() {
        let waiting = c.pointer("/state/waiting/reason").and_then(Value::as_str);
        let terminated = c.pointer("/state/terminated");
        if let Some(w) = waiting.filter(|w| !w.is_empty()) {
            reason = w.to_owned();
        } else if let Some(t) = terminated {
            reason = match t.get("reason").and_then(Value::as_str).filter(|r| !r.is_empty()) {
                Some(r) => r.to_owned(),
                None => match t.get("signal").and_then(Value::as_i64).filter(|s| *s != 0) {
                    Some(signal) => format!("Signal:{signal}"),
                    None => format!(
                        "ExitCode:{}",
                        t.get("exitCode").and_then(Value::as_i64).unwrap_or(0)
                    ),
                },
            };
        } else if c.get("ready").and_then(Value::as_bool) == Some(true)
            && c.pointer("/state/running").is_some()
        {
            has_running = true;
        }
    }
    if reason == "Completed" && has_running {
        reason = if pod_ready_condition(pod) {
            "Running".into()
        } else {
            "NotReady".into()
        };
    }
    if pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        reason = if pod_reason == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    reason
}

/// While a pod initializes, STATUS tells which init container it is at, as kubectl does:
/// `Init:1/2`, `Init:Error`, `Init:CrashLoopBackOff`, `Init:ExitCode:3`.
fn init_reason(pod: &Value) -> Option<String> {
    let statuses = pod
        .pointer("/status/initContainerStatuses")
        .and_then(Value::as_array)?;
    let initialized = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Initialized" && c["status"] == "True");
    if initialized {
        return None;
    }
    let total = pod
        .pointer("/spec/initContainers")
        .and_then(Value::as_array)
        .map_or(statuses.len(), Vec::len);
    for (i, c) in statuses.iter().enumerate() {
        let terminated = c.pointer("/state/terminated");
        let code = terminated.and_then(|t| t.get("exitCode")).and_then(Value::as_i64);
        if code == Some(0) {
            continue;
        }
        if let Some(t) = terminated {
            return Some(
                match t.get("reason").and_then(Value::as_str).filter(|r| !r.is_empty()) {
                    Some(r) => format!("Init:{r}"),
                    None => match t.get("signal").and_then(Value::as_i64).filter(|s| *s != 0) {
                        Some(signal) => format!("Init:Signal:{signal}"),
                        None => format!("Init:ExitCode:{}", code.unwrap_or(0)),
                    },
                },
            );
        }
        let waiting = c.pointer("/state/waiting/reason").and_then(Value::as_str);
        if let Some(w) = waiting.filter(|w| !w.is_empty() && *w != "PodInitializing") {
            return Some(format!("Init:{w}"));
        }
        return Some(format!("Init:{i}/{total}"));
    }
    None
}

fn pod_ready_condition(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| {
            c.get("type").and_then(Value::as_str) == Some("Ready")
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
}

/// RESTARTS: the sum over containers, with how long ago the last one ended (`3 (42s ago)`).
pub fn pod_restarts(pod: &Value, now: jiff::Timestamp) -> String {
    let mut statuses = container_statuses(pod);
    statuses.extend(
        pod.pointer("/status/initContainerStatuses")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    );
    let restarts: i64 = statuses
        .iter()
        .filter_map(|c| c.get("restartCount").and_then(Value::as_i64))
        .sum();
    let last = statuses
        .iter()
        .filter_map(|c| parse_time(c.pointer("/lastState/terminated/finishedAt")))
        .max();
    match last {
        Some(t) if restarts > 0 => format!(
            "{restarts} ({} ago)",
            human_duration(now.duration_since(t).as_secs())
        ),
        _ => restarts.to_string(),
    }
}

fn service_type(svc: &Value) -> &str {
    svc.pointer("/spec/type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .unwrap_or("ClusterIP")
}

/// EXTERNAL-IP as kubectl shows it: `spec.externalIPs`, and for a LoadBalancer its ingress
/// addresses (`<pending>` until it has one).
fn service_external_ip(svc: &Value) -> String {
    let strings = |p: &str| -> Vec<String> {
        svc.pointer(p)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    let mut ips = Vec::new();
    if service_type(svc) == "LoadBalancer" {
        for ingress in svc
            .pointer("/status/loadBalancer/ingress")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for key in ["ip", "hostname"] {
                if let Some(a) = ingress.get(key).and_then(Value::as_str).filter(|a| !a.is_empty()) {
                    ips.push(a.to_owned());
                }
            }
        }
        ips.extend(strings("/spec/externalIPs"));
        if ips.is_empty() {
            return "<pending>".into();
        }
    } else {
        ips.extend(strings("/spec/externalIPs"));
    }
    if ips.is_empty() {
        NONE.into()
    } else {
        ips.join(",")
    }
}

/// PORT(S): `80/TCP`, or `80:48005/TCP` when the daemon's proxy listens on another port than the
/// service port (as its status records) or when a nodePort is set.
pub fn service_ports(svc: &Value) -> String {
    let listening = crate::kube::services::listening(svc);
    let ports: Vec<String> = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .zip(&listening)
        .map(|(p, l)| {
            let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            let node_port = p.get("nodePort").and_then(Value::as_i64).filter(|n| *n > 0);
            // A Service on its own address listens on its own port; its node port is beside it.
            let host = l.listen_port.filter(|h| *h != l.port).or(node_port);
            match host {
                Some(h) => format!("{}:{h}/{protocol}", l.port),
                None => format!("{}/{protocol}", l.port),
            }
        })
        .collect();
    if ports.is_empty() {
        NONE.into()
    } else {
        ports.join(",")
    }
}

/// Aligns a table as kubectl does: columns padded to their widest cell plus three spaces.
pub fn render(table: &Table, headers: bool) -> String {
    let mut widths: Vec<usize> = table.headers.iter().map(|h| h.chars().count()).collect();
    for row in &table.rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            text.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(cell.chars().count())
                    + 3;
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    if headers {
        line(&table.headers);
    }
    for row in &table.rows {
        line(row);
    }
    out
}

/// Gives an object from a list its `kind` and `apiVersion` (list items may lack them).
pub fn with_kind(kind: Kind, mut object: Value) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.entry("kind").or_insert_with(|| kind.name().into());
        map.entry("apiVersion")
            .or_insert_with(|| kind.api_version().into());
    }
    object
}

/// The `List` kubectl prints for `-o json|yaml` of a listing.
pub fn list(items: Vec<Value>) -> Value {
    json!({
        "apiVersion": "v1",
        "items": items,
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    })
}

/// `-o yaml`.
pub fn to_yaml(value: &Value) -> Result<String, serde_norway::Error> {
    serde_norway::to_string(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2025-01-10T12:00:00Z".parse().unwrap()
    }

    fn opts() -> TableOptions {
        TableOptions {
            now: now(),
            ..Default::default()
        }
    }

    #[test]
    fn ages_read_like_kubectl() {
        for (secs, want) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (200, "3m20s"),
            (600, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (5 * 3600 + 3 * 60, "5h3m"),
            (8 * 3600 + 59 * 60, "8h"),
            (47 * 3600, "47h"),
            (2 * 86_400, "2d"),
            (2 * 86_400 + 4 * 3600, "2d4h"),
            (300 * 86_400, "300d"),
            (3 * 365 * 86_400 + 10 * 86_400, "3y10d"),
            (9 * 365 * 86_400, "9y"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
        let created = json!("2025-01-10T11:59:55Z");
        assert_eq!(age(Some(&created), now()), "5s");
        assert_eq!(age(None, now()), "<unknown>");
    }

    fn pod(phase: &str, statuses: Value) -> Value {
        json!({
            "metadata": {"name": "web-x1y2z", "namespace": "default",
                         "creationTimestamp": "2025-01-10T11:57:00Z", "labels": {"b": "2", "a": "1"}},
            "spec": {"containers": [{"name": "web", "image": "fabric8/ticker"}], "nodeName": "laptop"},
            "status": {"phase": phase, "podIP": "127.0.0.1", "containerStatuses": statuses},
        })
    }

    #[test]
    fn pod_status_follows_kubectl() {
        let running = pod(
            "Running",
            json!([{"name": "web", "ready": true, "restartCount": 0, "state": {"running": {}}}]),
        );
        assert_eq!(pod_status(&running), "Running");
        assert_eq!(pod_ready(&running), "1/1");
        let crash = pod(
            "Running",
            json!([{"name": "web", "ready": false, "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-01-10T11:59:18Z"}}}]),
        );
        assert_eq!(pod_status(&crash), "CrashLoopBackOff");
        assert_eq!(pod_ready(&crash), "0/1");
        assert_eq!(pod_restarts(&crash, now()), "3 (42s ago)");
        let creating = pod(
            "Pending",
            json!([{"name": "web", "state": {"waiting": {"reason": "ContainerCreating"}}}]),
        );
        assert_eq!(pod_status(&creating), "ContainerCreating");
        let done = pod(
            "Succeeded",
            json!([{"name": "web", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]),
        );
        assert_eq!(pod_status(&done), "Completed");
        let failed = pod(
            "Failed",
            json!([{"name": "web", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]),
        );
        assert_eq!(pod_status(&failed), "Error");
        let no_reason = pod(
            "Failed",
            json!([{"name": "web", "state": {"terminated": {"exitCode": 7}}}]),
        );
        assert_eq!(pod_status(&no_reason), "ExitCode:7");
        let killed = pod(
            "Failed",
            json!([{"name": "web", "state": {"terminated": {"exitCode": 137, "signal": 9}}}]),
        );
        assert_eq!(pod_status(&killed), "Signal:9");
        let mut deleting = running.clone();
        deleting["metadata"]["deletionTimestamp"] = json!("2025-01-10T11:59:59Z");
        assert_eq!(pod_status(&deleting), "Terminating");
        let fresh = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}});
        assert_eq!(pod_status(&fresh), "Pending");
        assert_eq!(pod_ready(&fresh), "0/1");
        assert_eq!(pod_restarts(&fresh, now()), "0");
    }

    #[test]
    fn pod_tables_plain_wide_all_namespaces_and_labels() {
        let p = pod(
            "Running",
            json!([{"name": "web", "ready": true, "restartCount": 0, "state": {"running": {}}}]),
        );
        let t = table(Kind::Pod, std::slice::from_ref(&p), &opts());
        assert_eq!(
            render(&t, true),
            "NAME        READY   STATUS    RESTARTS   AGE\nweb-x1y2z   1/1     Running   0          3m\n"
        );
        let wide = TableOptions {
            wide: true,
            namespace_column: true,
            show_labels: true,
            kind_prefix: true,
            ..opts()
        };
        let t = table(Kind::Pod, &[p], &wide);
        assert_eq!(
            t.headers,
            [
                "NAMESPACE",
                "NAME",
                "READY",
                "STATUS",
                "RESTARTS",
                "AGE",
                "IP",
                "NODE",
                "LABELS"
            ]
        );
        assert_eq!(
            t.rows[0],
            [
                "default",
                "pod/web-x1y2z",
                "1/1",
                "Running",
                "0",
                "3m",
                "127.0.0.1",
                "laptop",
                "a=1,b=2"
            ]
        );
        assert_eq!(render(&t, false).lines().count(), 1);
    }

    #[test]
    fn rc_service_and_namespace_columns() {
        let rc = json!({
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2025-01-08T08:00:00Z"},
            "spec": {"replicas": 3, "selector": {"app": "web"},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "fabric8/ticker"},
                                                          {"name": "side", "image": "fabric8/java:1.0"}]}}},
            "status": {"replicas": 2, "readyReplicas": 1},
        });
        let wide = TableOptions { wide: true, ..opts() };
        let t = table(Kind::ReplicationController, &[rc], &wide);
        assert_eq!(
            t.headers,
            [
                "NAME",
                "DESIRED",
                "CURRENT",
                "READY",
                "AGE",
                "CONTAINERS",
                "IMAGES",
                "SELECTOR"
            ]
        );
        assert_eq!(
            t.rows[0],
            [
                "web",
                "3",
                "2",
                "1",
                "2d4h",
                "web,side",
                "fabric8/ticker,fabric8/java:1.0",
                "app=web"
            ]
        );
        let svc = json!({
            "metadata": {"name": "web", "creationTimestamp": "2025-01-10T11:59:00Z"},
            "spec": {"selector": {"app": "web"}, "clusterIP": "127.0.0.1",
                     "ports": [{"port": 80, "targetPort": 8080}, {"name": "admin", "port": 9000, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1",
                       "ports": [{"port": 48005, "protocol": "TCP"}, {"port": 9000, "protocol": "TCP"}]}]}},
        });
        let t = table(Kind::Service, &[svc], &wide);
        assert_eq!(
            t.rows[0],
            [
                "web",
                "ClusterIP",
                "127.0.0.1",
                "<none>",
                "80:48005/TCP,9000/TCP",
                "60s",
                "app=web"
            ]
        );
        // A port no proxy listens for shows its node port, if any.
        let unbound = json!({
            "spec": {"ports": [{"port": 80, "nodePort": 30080}, {"port": 9000}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1", "ports": [
                {"port": 80, "protocol": "TCP", "error": "jube.io/NotListening"}, {"port": 48100, "protocol": "TCP"}]}]}},
        });
        assert_eq!(service_ports(&unbound), "80:30080/TCP,9000:48100/TCP");
        let bare = json!({"metadata": {"name": "db"}, "spec": {"type": "NodePort",
                          "ports": [{"port": 5432, "nodePort": 30432}]}});
        assert_eq!(service_ports(&bare), "5432:30432/TCP");
        let t = table(Kind::Service, &[bare], &opts());
        assert_eq!(
            t.rows[0],
            [
                "db",
                "NodePort",
                "<none>",
                "<none>",
                "5432:30432/TCP",
                "<unknown>"
            ]
        );
        let lb = json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 1}]}});
        assert_eq!(service_external_ip(&lb), "<pending>");
        let ns = json!({"metadata": {"name": "dev", "creationTimestamp": "2025-01-10T11:00:00Z"},
                        "status": {"phase": "Terminating"}});
        let all_ns = TableOptions {
            namespace_column: true,
            ..opts()
        };
        let t = table(
            Kind::Namespace,
            &[ns, json!({"metadata": {"name": "default"}})],
            &all_ns,
        );
        assert_eq!(t.headers, ["NAME", "STATUS", "AGE"]);
        assert_eq!(t.rows[1], ["default", "Active", "<unknown>"]);
    }

    #[test]
    fn lists_wrap_items_as_kubectl_prints_them() {
        let item = with_kind(Kind::Pod, json!({"metadata": {"name": "a"}}));
        assert_eq!(item["kind"], "Pod");
        assert_eq!(item["apiVersion"], "v1");
        let l = list(vec![item]);
        assert_eq!(l["kind"], "List");
        assert_eq!(l["metadata"]["resourceVersion"], "");
        let yaml = to_yaml(&l).unwrap();
        assert!(yaml.contains("kind: List"), "{yaml}");
        assert!(yaml.contains("- apiVersion: v1"), "{yaml}");
    }
}
