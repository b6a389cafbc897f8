//! `jube logs X`: the container named X, else the pod X through the daemon's
//! `pods/{name}/log` (`pod/X` and `rc/X` go to the daemon at once).

use std::io::{Read, Write};

use serde_json::Value;

use super::{connect, object_path, print_error, query_value};
use crate::container::lifecycle::ContainerError;
use crate::kube::client::{Client, ClientError};
use crate::kube::kinds::{DEFAULT_NAMESPACE, Kind};

/// What `jube logs` was asked for.
pub struct LogsRequest<'a> {
    pub target: &'a str,
    pub follow: bool,
    pub tail: Option<usize>,
    /// `--file`: a log file of a container.
    pub file: Option<&'a str>,
    /// `-c`: a container of the pod.
    pub container: Option<&'a str>,
    pub namespace: Option<&'a str>,
}

pub fn logs(req: &LogsRequest<'_>) -> anyhow::Result<i32> {
    let pod_only = req.container.is_some() || req.namespace.is_some();
    if let Some((word, name)) = req.target.split_once('/') {
        return match Kind::from_word(word) {
            Some(Kind::Pod) => pod_logs(req, &connect()?, name),
            Some(Kind::ReplicationController) => rc_logs(req, name),
            _ => anyhow::bail!(
                "`{}`: logs come from a container, a pod (pod/NAME) or a replication controller (rc/NAME)",
                req.target
            ),
        };
    }
    if !pod_only {
        match super::super::containers::logs(req.target, req.follow, req.tail, req.file) {
            Err(e) if is_container_not_found(&e) => {
                // No such container: maybe a pod, if a daemon runs to ask.
                match connect() {
                    Ok(client) => return pod_logs(req, &client, req.target),
                    Err(ClientError::NotRunning { .. }) => return Err(e),
                    Err(other) => return Err(other.into()),
                }
            }
            other => return other,
        }
    }
    pod_logs(req, &connect()?, req.target)
}

fn is_container_not_found(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<ContainerError>(),
        Some(ContainerError::NotFound(_))
    )
}

fn namespace<'a>(req: &LogsRequest<'a>) -> &'a str {
    req.namespace.unwrap_or(DEFAULT_NAMESPACE)
}

/// Streams the log of one pod's container to stdout.
fn pod_logs(req: &LogsRequest<'_>, client: &Client, name: &str) -> anyhow::Result<i32> {
    if req.file.is_some() {
        anyhow::bail!(
            "--file picks a log file of a container; a pod's log is its container's console (use -c for the container)"
        );
    }
    let ns = namespace(req);
    let pod = match client.get(&object_path(Kind::Pod, ns, name)) {
        Ok(pod) => pod,
        Err(e) if e.is_not_found() && req.container.is_none() && req.namespace.is_none() => {
            anyhow::bail!(
                "no container or pod named \"{name}\": `jube ps -a` lists containers, `jube get pods` lists pods"
            )
        }
        Err(e) => {
            print_error(&e, None);
            return Ok(super::super::EXIT_FAILURE);
        }
    };
    let container = match pick_container(&pod, req.container) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(super::super::EXIT_FAILURE);
        }
    };
    let mut path = format!(
        "{}/log?container={}",
        object_path(Kind::Pod, ns, name),
        query_value(&container)
    );
    if req.follow {
        path.push_str("&follow=true");
    }
    if let Some(n) = req.tail {
        path.push_str(&format!("&tailLines={n}"));
    }
    let response = match client.stream(&path) {
        Ok(r) => r,
        Err(e) => {
            print_error(&e, None);
            return Ok(super::super::EXIT_FAILURE);
        }
    };
    copy_out(response)?;
    Ok(0)
}

/// The container asked for, or the pod's only (or first, with a note) container.
fn pick_container(pod: &Value, asked: Option<&str>) -> Result<String, String> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let names = crate::kube::reconcile::container_names(pod);
    match asked {
        Some(c) if names.iter().any(|n| n == c) => Ok(c.to_owned()),
        Some(c) => Err(format!(
            "container {c} is not valid for pod {name}; its containers: {}",
            names.join(", ")
        )),
        None => match names.as_slice() {
            [] => Err(format!("pod {name} has no containers")),
            [only] => Ok(only.clone()),
            [first, ..] => {
                eprintln!("Defaulted container \"{first}\" out of: {}", names.join(", "));
                Ok(first.clone())
            }
        },
    }
}

/// `rc/NAME`: the log of one of its pods, a running one when there is one, as kubectl picks.
fn rc_logs(req: &LogsRequest<'_>, name: &str) -> anyhow::Result<i32> {
    let client = connect()?;
    let ns = namespace(req);
    let rc = match client.get(&object_path(Kind::ReplicationController, ns, name)) {
        Ok(rc) => rc,
        Err(e) => {
            print_error(&e, None);
            return Ok(super::super::EXIT_FAILURE);
        }
    };
    let selector = crate::kube::table::format_labels(rc.pointer("/spec/selector"));
    let path = super::list_path(Kind::Pod, Some(ns), Some(&selector));
    let pods = match client.get(&path) {
        Ok(list) => list
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        Err(e) => {
            print_error(&e, None);
            return Ok(super::super::EXIT_FAILURE);
        }
    };
    let running = |p: &&Value| p.pointer("/status/phase").and_then(Value::as_str) == Some("Running");
    let Some(pod) = pods.iter().find(running).or(pods.first()) else {
        anyhow::bail!("replicationcontroller {name} has no pods yet (`jube get pods -l {selector}`)");
    };
    let pod_name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if pods.len() > 1 {
        eprintln!("Found {} pods, using pod/{pod_name}", pods.len());
    }
    pod_logs(req, &client, pod_name)
}

/// Copies a log stream to stdout as it arrives; a closed pipe (`| head`) ends quietly.
fn copy_out(mut response: reqwest::blocking::Response) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match response.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => anyhow::bail!("the log stream from the daemon broke off: {e}"),
        };
        match out.write_all(&buf[..n]).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            other => other?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_are_picked_as_kubectl_picks_them() {
        let pod =
            json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        assert_eq!(pick_container(&pod, Some("b")).unwrap(), "b");
        assert_eq!(pick_container(&pod, None).unwrap(), "a");
        let e = pick_container(&pod, Some("c")).unwrap_err();
        assert!(e.contains("container c is not valid for pod web"), "{e}");
    }
}
