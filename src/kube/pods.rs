//! A pod's containers as jube containers: names, labels, environment, ports and image pulls.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::container::lifecycle::{CreateOptions, PodPort};
use crate::container::state::POD_LABEL;
use crate::image::{self, VersionRequest};
use crate::maven::resolver::ResolveOptions;

/// The label naming the container of the pod spec a jube container runs.
pub const CONTAINER_LABEL: &str = "jube.io/container";
/// The label holding the uid of the pod a container belongs to (a recreated pod has a new one).
pub const POD_UID_LABEL: &str = "jube.io/pod-uid";

/// `k8s_<container>_<pod>_<namespace>`, as the kubelet names docker containers.
pub fn container_name(namespace: &str, pod: &str, container: &str) -> String {
    format!("k8s_{container}_{pod}_{namespace}")
}

/// How to create the jube container for one container of a pod.
pub fn create_options(pod: &Value, container: &Value, service_env: &[(String, String)]) -> CreateOptions {
    let namespace = str_at(pod, "/metadata/namespace").unwrap_or("default");
    let pod_name = str_at(pod, "/metadata/name").unwrap_or_default();
    let name = str_at(container, "/name").unwrap_or_default();
    let mut env: Vec<(String, String)> = service_env.to_vec();
    env.push(("HOSTNAME".into(), pod_name.to_owned()));
    for e in container
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(k), Some(v)) = (str_at(e, "/name"), e.get("value")) {
            env.push((
                k.to_owned(),
                v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()),
            ));
        }
    }
    // The image's scripts decide what `command` and `args` mean; jube passes them on.
    if let Some(cmd) = words(container.get("command")) {
        env.push(("JUBE_COMMAND".into(), cmd));
    }
    if let Some(args) = words(container.get("args")) {
        env.push(("JUBE_ARGS".into(), args));
    }
    let pod_ports = container
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let container_port = p
                .get("containerPort")
                .and_then(Value::as_u64)
                .and_then(|n| u16::try_from(n).ok())?;
            Some(PodPort {
                name: str_at(p, "/name").map(str::to_owned),
                container_port,
                host_port: p
                    .get("hostPort")
                    .and_then(Value::as_u64)
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|n| *n > 0),
            })
        })
        .collect();
    let mut labels = BTreeMap::new();
    labels.insert(POD_LABEL.to_owned(), format!("{namespace}/{pod_name}"));
    labels.insert(
        POD_UID_LABEL.to_owned(),
        str_at(pod, "/metadata/uid").unwrap_or_default().to_owned(),
    );
    labels.insert(CONTAINER_LABEL.to_owned(), name.to_owned());
    CreateOptions {
        name: Some(container_name(namespace, pod_name, name)),
        env,
        labels,
        pod_ports,
        ..Default::default()
    }
}

/// Kubernetes' pull policy as resolver options: `Always` (the default for no tag or `latest`)
/// refreshes metadata, `Never` stays offline, `IfNotPresent` uses what is cached.
pub fn pull_options(container: &Value, prefix: &str) -> ResolveOptions {
    let image_name = str_at(container, "/image").unwrap_or_default();
    let floating = image::parse(image_name, prefix)
        .map(|r| r.version == VersionRequest::NewestRelease)
        .unwrap_or(false);
    let policy =
        str_at(container, "/imagePullPolicy").unwrap_or(if floating { "Always" } else { "IfNotPresent" });
    ResolveOptions {
        refresh: policy == "Always",
        offline: policy == "Never",
        ..Default::default()
    }
}

fn words(v: Option<&Value>) -> Option<String> {
    let items = v?.as_array()?;
    let joined: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
    (!joined.is_empty()).then(|| joined.join(" "))
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pod_container_becomes_create_options() {
        let pod = json!({"metadata": {"name": "web-abcde", "namespace": "dev", "uid": "u1"}});
        let c = json!({"name": "web", "image": "fabric8/java", "command": ["java", "-jar"], "args": ["app.jar"],
            "env": [{"name": "MODE", "value": "demo"}, {"name": "N", "value": 3}],
            "ports": [{"name": "http", "containerPort": 8080, "hostPort": 18080}, {"containerPort": 9000}]});
        let o = create_options(&pod, &c, &[("WEB_SERVICE_HOST".into(), "127.0.0.1".into())]);
        assert_eq!(o.name.as_deref(), Some("k8s_web_web-abcde_dev"));
        assert_eq!(o.labels[POD_LABEL], "dev/web-abcde");
        assert_eq!(o.labels[CONTAINER_LABEL], "web");
        let env: BTreeMap<_, _> = o.env.iter().cloned().collect();
        assert_eq!(env["MODE"], "demo");
        assert_eq!(env["N"], "3");
        assert_eq!(env["JUBE_COMMAND"], "java -jar");
        assert_eq!(env["JUBE_ARGS"], "app.jar");
        assert_eq!(env["WEB_SERVICE_HOST"], "127.0.0.1");
        assert_eq!(
            o.pod_ports[0],
            PodPort {
                name: Some("http".into()),
                container_port: 8080,
                host_port: Some(18080)
            }
        );
        assert_eq!(o.pod_ports[1].host_port, None);
    }

    #[test]
    fn pull_policy_follows_kubernetes_defaults() {
        let prefix = crate::image::DEFAULT_GROUP_PREFIX;
        assert!(pull_options(&json!({"image": "fabric8/java"}), prefix).refresh);
        assert!(pull_options(&json!({"image": "fabric8/java:latest"}), prefix).refresh);
        assert!(!pull_options(&json!({"image": "fabric8/java:1.0"}), prefix).refresh);
        let never = pull_options(
            &json!({"image": "fabric8/java", "imagePullPolicy": "Never"}),
            prefix,
        );
        assert!(never.offline && !never.refresh);
    }
}
