//! Services: which ready pods each service port sends traffic to, and what the daemon records in
//! a service's status about where its proxy listens.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde_json::{Value, json};

use crate::kube::proxy::{ProxyPort, ServiceKey, ServicePortSpec, ServiceProxy};
use crate::kube::reconcile::{self, Observed};

/// The proxies the services in the store ask for, with the host ports of the ready pods they select.
pub fn desired(services: &[Value], pods: &[Value], observed: &[Observed]) -> Vec<ServiceProxy> {
    services
        .iter()
        .map(|svc| {
            let key = ServiceKey::new(
                reconcile::str_at(svc, "/metadata/namespace").unwrap_or("default"),
                reconcile::str_at(svc, "/metadata/name").unwrap_or_default(),
            );
            let selector: BTreeMap<String, String> = svc
                .pointer("/spec/selector")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            let selected: Vec<&Value> = pods
                .iter()
                .filter(|p| reconcile::str_at(p, "/metadata/namespace") == Some(key.namespace.as_str()))
                .filter(|p| selects(&selector, p))
                .filter(|p| ready(p))
                .collect();
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
            ServiceProxy { key, ports }
        })
        .collect()
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
fn backend(pod: &Value, target: &Value, observed: &[Observed]) -> Option<SocketAddr> {
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

/// The service status recording where its proxies listen (`jube get svc` shows these ports).
pub fn status(host: IpAddr, ports: &[ProxyPort]) -> Value {
    let ports: Vec<Value> = ports
        .iter()
        .map(|p| json!({"port": p.listen_port, "protocol": "TCP", "name": p.name, "servicePort": p.port}))
        .collect();
    json!({"loadBalancer": {"ingress": [{"ip": host.to_string(), "ports": ports}]}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::state::Status;

    fn pod(name: &str, labels: Value, ready: bool) -> Value {
        json!({
            "metadata": {"name": name, "namespace": "default", "uid": name, "labels": labels},
            "spec": {"containers": [{"name": "web", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}
        })
    }

    fn observed(name: &str, host: u16) -> Observed {
        Observed {
            id: name.into(),
            pod: ("default".into(), name.into()),
            pod_uid: name.into(),
            container: "web".into(),
            status: Status::Running,
            exit_code: None,
            error: None,
            started_at: None,
            finished_at: None,
            restart_count: 0,
            last_run: None,
            ports_ready: true,
            ports: vec![(8080, host)],
            image: "x".into(),
        }
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
        let d = desired(&[svc], &pods, &seen);
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
            desired(&[no_selector], &pods, &seen)[0].ports[0]
                .backends
                .is_empty()
        );
    }
}
