//! Services: which ready pods each service port sends traffic to, and what the daemon records in
//! a service's status about where its proxy listens.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde_json::{Value, json};

use crate::kube::cluster_ip::ServiceRange;
use crate::kube::proxy::{ProxyPort, ServiceKey, ServicePortSpec, ServiceProxy};
use crate::kube::reconcile::{self, Observed};

/// The proxies the services in the store ask for, with the host ports of the ready pods they
/// select, and each one's own address when it has one in `range`.
pub fn desired(
    services: &[Value],
    pods: &[Value],
    observed: &[Observed],
    range: &ServiceRange,
) -> Vec<ServiceProxy> {
    services
        .iter()
        .map(|svc| {
            let key = ServiceKey::new(
                reconcile::str_at(svc, "/metadata/namespace").unwrap_or("default"),
                reconcile::str_at(svc, "/metadata/name").unwrap_or_default(),
            );
            let selected = ready_selected(svc, pods);
            let ports = svc
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    let port = p
                        .get("port")
                        .and_then(Value::as_u64)
                        .and_then(|n| u16::try_from(n).ok())?;
                    let target = p.get("targetPort").cloned().unwrap_or(json!(port));
                    let backends = selected
                        .iter()
                        .filter_map(|pod| backend(pod, &target, observed))
                        .collect();
                    Some(ServicePortSpec {
                        name: reconcile::str_at(p, "/name").map(str::to_owned),
                        port,
                        node_port: p
                            .get("nodePort")
                            .and_then(Value::as_u64)
                            .and_then(|n| u16::try_from(n).ok())
                            .filter(|n| *n > 0),
                        backends,
                    })
                })
                .collect();
            ServiceProxy {
                key,
                cluster_ip: cluster_ip(svc).filter(|ip| range.holds(*ip)),
                ports,
            }
        })
        .collect()
}

/// `spec.clusterIP` as an address (not for a headless Service).
pub fn cluster_ip(svc: &Value) -> Option<IpAddr> {
    reconcile::str_at(svc, "/spec/clusterIP")?.parse().ok()
}

/// The ready pods of `svc`'s namespace its selector picks.
pub fn ready_selected<'a>(svc: &Value, pods: &'a [Value]) -> Vec<&'a Value> {
    let namespace = reconcile::str_at(svc, "/metadata/namespace").unwrap_or("default");
    let selector = selector(svc);
    pods.iter()
        .filter(|p| reconcile::str_at(p, "/metadata/namespace") == Some(namespace))
        .filter(|p| selects(&selector, p))
        .filter(|p| ready(p))
        .collect()
}

fn selector(svc: &Value) -> BTreeMap<String, String> {
    svc.pointer("/spec/selector")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// A pod is a backend once its Ready condition is true.
/// Ready and not being deleted: a terminating pod leaves its services' endpoints at once, so
/// that no new connection reaches an app that is stopping.
fn ready(pod: &Value) -> bool {
    !crate::kube::reconcile::is_terminating(pod)
        && pod
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.get("type") == Some(&json!("Ready")) && c.get("status") == Some(&json!("True"))
                })
            })
}

/// Whether a selector (every label equal) picks a pod; an empty selector picks none, as for
/// Kubernetes services without selectors.
pub fn selects(selector: &BTreeMap<String, String>, pod: &Value) -> bool {
    let labels = pod.pointer("/metadata/labels").and_then(Value::as_object);
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)).and_then(Value::as_str) == Some(v.as_str()))
}

/// Where a pod serves a service's `targetPort`: a number is a container port, a name is looked up in
/// the pod's container ports; either way the host port jube leased for it.
pub fn backend(pod: &Value, target: &Value, observed: &[Observed]) -> Option<SocketAddr> {
    let container_port: u16 = match target {
        Value::Number(n) => u16::try_from(n.as_u64()?).ok()?,
        Value::String(s) => match s.parse::<u16>() {
            Ok(n) => n,
            Err(_) => named_port(pod, s)?,
        },
        _ => return None,
    };
    let key = reconcile::key(pod);
    let uid = reconcile::str_at(pod, "/metadata/uid").unwrap_or_default();
    observed
        .iter()
        .filter(|c| c.pod == key && c.pod_uid == uid)
        .flat_map(|c| c.ports.iter())
        .find(|(cport, _)| *cport == container_port)
        .map(|(_, host)| SocketAddr::from(([127, 0, 0, 1], *host)))
}

fn named_port(pod: &Value, name: &str) -> Option<u16> {
    pod.pointer("/spec/containers")?
        .as_array()?
        .iter()
        .flat_map(|c| c.get("ports").and_then(Value::as_array).into_iter().flatten())
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|p| p.get("containerPort").and_then(Value::as_u64))
        .and_then(|n| u16::try_from(n).ok())
}

/// What a status entry of a port without a listener says (Kubernetes asks for a domain-prefixed
/// CamelCase reason for errors it does not define itself).
pub const NOT_LISTENING: &str = "jube.io/NotListening";

/// The service status recording where its proxies listen (`jube get svc` shows these ports):
/// `status.loadBalancer.ingress[0].ports` follows `spec.ports` one for one, each entry the port
/// the proxy listens on, or the service port with an `error` when no proxy listens for it. Only
/// `PortStatus`'s own fields, so that what a client reads back it can send again.
pub fn status(svc: &Value, host: IpAddr, ports: &[ProxyPort]) -> Value {
    let ports: Vec<Value> = spec_ports(svc)
        .map(
            |(port, protocol)| match ports.iter().find(|p| i64::from(p.port) == port) {
                Some(p) => json!({"port": p.listen_port, "protocol": protocol}),
                None => json!({"port": port, "protocol": protocol, "error": NOT_LISTENING}),
            },
        )
        .collect();
    json!({"loadBalancer": {"ingress": [{"ip": host.to_string(), "ports": ports}]}})
}

/// Each of `spec.ports`' port and protocol.
fn spec_ports(svc: &Value) -> impl Iterator<Item = (i64, &str)> {
    svc.pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            (port, p.get("protocol").and_then(Value::as_str).unwrap_or("TCP"))
        })
}

/// One service port as the daemon's status records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listening {
    pub name: Option<String>,
    /// The service port (`spec.ports[].port`).
    pub port: i64,
    /// Where its proxy listens, if it does.
    pub listen_port: Option<i64>,
}

/// `spec.ports` with where each one's proxy listens, read back from the status [`status`] wrote.
pub fn listening(svc: &Value) -> Vec<Listening> {
    let recorded: &[Value] = svc
        .pointer("/status/loadBalancer/ingress/0/ports")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    svc.pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| Listening {
            name: p.get("name").and_then(Value::as_str).map(str::to_owned),
            port: p.get("port").and_then(Value::as_i64).unwrap_or(0),
            listen_port: recorded
                .get(i)
                .filter(|r| r.get("error").is_none())
                .and_then(|r| r.get("port"))
                .and_then(Value::as_i64),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, labels: Value, ready: bool) -> Value {
        json!({
            "metadata": {"name": name, "namespace": "default", "uid": name, "labels": labels},
            "spec": {"containers": [{"name": "web", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}
        })
    }

    fn observed(name: &str, host: u16) -> Observed {
        Observed::running_web("default", name, name, host)
    }

    #[test]
    fn services_send_to_ready_selected_pods_by_target_port_name_or_number() {
        let pods = [
            pod("a", json!({"app": "web"}), true),
            pod("b", json!({"app": "web"}), false),
            pod("c", json!({"app": "db"}), true),
        ];
        let seen = [observed("a", 48000), observed("b", 48001), observed("c", 48002)];
        let svc = json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}, {"port": 81, "targetPort": 8080, "nodePort": 30080}]}});
        let d = desired(&[svc], &pods, &seen, &ServiceRange::default());
        assert_eq!(
            d[0].ports[0].backends,
            [SocketAddr::from(([127, 0, 0, 1], 48000))]
        );
        assert_eq!(
            d[0].ports[1].backends,
            [SocketAddr::from(([127, 0, 0, 1], 48000))]
        );
        assert_eq!(d[0].ports[1].node_port, Some(30080));
        let no_selector = json!({"metadata": {"name": "x"}, "spec": {"ports": [{"port": 80}]}});
        assert!(
            desired(&[no_selector], &pods, &seen, &ServiceRange::default())[0].ports[0]
                .backends
                .is_empty()
        );
    }

    #[test]
    fn the_status_holds_only_port_status_fields_in_spec_order_and_reads_back() {
        let mut svc = json!({"metadata": {"name": "web"}, "spec": {"ports": [
            {"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}, {"port": 9000}]}});
        let proxies = [
            ProxyPort {
                name: Some("http".into()),
                port: 80,
                listen_port: 48100,
            },
            ProxyPort {
                name: None,
                port: 9000,
                listen_port: 9000,
            },
        ];
        let status = status(&svc, IpAddr::from([127, 0, 0, 1]), &proxies);
        assert_eq!(
            status["loadBalancer"]["ingress"][0]["ports"],
            json!([{"port": 48100, "protocol": "TCP"},
                   {"port": 53, "protocol": "UDP", "error": NOT_LISTENING},
                   {"port": 9000, "protocol": "TCP"}])
        );
        // Valid Kubernetes: the typed status holds all of it.
        let typed: k8s_openapi::api::core::v1::ServiceStatus =
            serde_json::from_value(status.clone()).unwrap();
        assert_eq!(serde_json::to_value(typed).unwrap(), status);
        svc["status"] = status;
        let listening = listening(&svc);
        assert_eq!(
            listening
                .iter()
                .map(|l| (l.name.as_deref(), l.port, l.listen_port))
                .collect::<Vec<_>>(),
            [
                (Some("http"), 80, Some(48100)),
                (Some("dns"), 53, None),
                (None, 9000, Some(9000))
            ]
        );
    }
}
