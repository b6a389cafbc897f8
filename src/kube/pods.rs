//! A pod's containers as jube containers: names, labels, environment, ports and image pulls.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::container::lifecycle::{CreateOptions, PodPort};
use crate::container::state::POD_LABEL;
use crate::image::{self, VersionRequest};
use crate::kube::podenv::ContainerEnv;
use crate::maven::resolver::ResolveOptions;

/// The label naming the container of the pod spec a jube container runs.
pub const CONTAINER_LABEL: &str = "jube.io/container";
/// The label holding the uid of the pod a container belongs to (a recreated pod has a new one).
pub const POD_UID_LABEL: &str = "jube.io/pod-uid";

/// `k8s_<container>_<pod>_<namespace>`, as the kubelet names docker containers.
pub fn container_name(namespace: &str, pod: &str, container: &str) -> String {
    format!("k8s_{container}_{pod}_{namespace}")
}

/// How to create the jube container for one container of a pod, given its environment.
pub fn create_options(pod: &Value, container: &Value, container_env: ContainerEnv) -> CreateOptions {
    let namespace = str_at(pod, "/metadata/namespace").unwrap_or("default");
    let pod_name = str_at(pod, "/metadata/name").unwrap_or_default();
    let name = str_at(container, "/name").unwrap_or_default();
    let ContainerEnv {
        vars: mut env,
        secret_names,
        ..
    } = container_env;
    // `command` replaces the image's entry point and `args` its arguments, as Kubernetes maps
    // them onto an image; `$(VAR)` refers to the container's variables. The joined forms stay for
    // image scripts written to read them.
    let command = argv(container.get("command"), &env);
    let args = argv(container.get("args"), &env);
    if let Some(cmd) = &command {
        env.push(("JUBE_COMMAND".into(), cmd.join(" ")));
    }
    if let Some(args) = &args {
        env.push(("JUBE_ARGS".into(), args.join(" ")));
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
        command,
        args,
        secret_env: secret_names,
        isolated: str_at(
            pod,
            &format!(
                "/metadata/annotations/{}",
                crate::oci::isolate::ANNOTATION.replace('/', "~1")
            ),
        ) == Some("true"),
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

/// A `command` or `args` list, each element expanded; `None` when absent or empty.
fn argv(v: Option<&Value>, env: &[(String, String)]) -> Option<Vec<String>> {
    let items: Vec<String> = v?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .map(|s| expand(s, env))
        .collect();
    (!items.is_empty()).then_some(items)
}

/// Kubernetes' `$(VAR)` expansion: a defined variable is replaced by its value (the last
/// definition wins), `$$` is a literal `$`, and anything else, unknown names included, stays as
/// written.
pub fn expand(text: &str, env: &[(String, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
        {
            let name = &inner[..end];
            match env.iter().rev().find(|(k, _)| k == name) {
                Some((_, value)) => out.push_str(value),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(pod: &Value, c: &Value, services: &[(String, String)]) -> ContainerEnv {
        crate::kube::podenv::container_env(pod, c, services, &|_, _| None).unwrap()
    }

    #[test]
    fn a_pod_container_becomes_create_options() {
        let pod = json!({"metadata": {"name": "web-abcde", "namespace": "dev", "uid": "u1"}});
        let c = json!({"name": "web", "image": "fabric8/java", "command": ["java", "-jar"], "args": ["app.jar"],
            "env": [{"name": "MODE", "value": "demo"}, {"name": "N", "value": 3}],
            "ports": [{"name": "http", "containerPort": 8080, "hostPort": 18080}, {"containerPort": 9000}]});
        let o = create_options(
            &pod,
            &c,
            env(&pod, &c, &[("WEB_SERVICE_HOST".into(), "127.0.0.1".into())]),
        );
        assert_eq!(o.name.as_deref(), Some("k8s_web_web-abcde_dev"));
        assert_eq!(o.labels[POD_LABEL], "dev/web-abcde");
        assert_eq!(o.labels[CONTAINER_LABEL], "web");
        let env: BTreeMap<_, _> = o.env.iter().cloned().collect();
        assert_eq!(env["MODE"], "demo");
        assert_eq!(env["N"], "3");
        assert_eq!(env["JUBE_COMMAND"], "java -jar");
        assert_eq!(env["JUBE_ARGS"], "app.jar");
        assert_eq!(o.command, Some(vec!["java".to_owned(), "-jar".to_owned()]));
        assert_eq!(o.args, Some(vec!["app.jar".to_owned()]));
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
        assert!(!o.isolated);
    }

    #[test]
    fn the_isolated_annotation_asks_for_an_isolated_run() {
        let c = json!({"name": "c", "image": "x"});
        for (value, isolated) in [("true", true), ("false", false), ("yes", false)] {
            let pod = json!({"metadata": {"name": "p", "namespace": "default", "uid": "u",
                "annotations": {"jube.io/isolated": value}}});
            let o = create_options(&pod, &c, env(&pod, &c, &[]));
            assert_eq!(o.isolated, isolated, "{value}");
        }
    }

    #[test]
    fn regression_command_and_args_keep_their_argument_boundaries_and_expand_vars() {
        let pod = json!({"metadata": {"name": "p", "namespace": "default", "uid": "u"}});
        let c = json!({"name": "c", "image": "x", "env": [{"name": "WHO", "value": "a b"}],
            "command": ["sh", "-c", "echo crashing; exit 3"],
            "args": ["$(WHO)", "$$(WHO)", "$(NOPE)", "cost $5", "$(WHO"]});
        let o = create_options(&pod, &c, env(&pod, &c, &[]));
        assert_eq!(o.command.unwrap(), ["sh", "-c", "echo crashing; exit 3"]);
        assert_eq!(o.args.unwrap(), ["a b", "$(WHO)", "$(NOPE)", "cost $5", "$(WHO"]);
        assert_eq!(
            expand("$(HOSTNAME)-$$", &[("HOSTNAME".into(), "p".into())]),
            "p-$"
        );
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
