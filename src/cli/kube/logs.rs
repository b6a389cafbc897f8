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
    /// `-p`: the run before the last restart.
    pub previous: bool,
    pub timestamps: bool,
    /// `--since`: only lines newer than this.
    pub since: Option<std::time::Duration>,
}

/// A `--since` duration as kubectl takes it (`30s`, `5m`, `1h30m`).
pub fn parse_since(text: &str) -> Result<std::time::Duration, String> {
    let parsed: jiff::SignedDuration = text
        .trim()
        .parse()
        .map_err(|e| format!("`{text}` is not a duration like 30s, 5m or 1h30m: {e}"))?;
    std::time::Duration::try_from(parsed).map_err(|_| format!("`{text}`: a duration cannot be negative"))
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
        let since = req.since.map(|d| {
            let now = jiff::Timestamp::now().as_nanosecond();
            i64::try_from(now - i128::try_from(d.as_nanos()).unwrap_or(i128::MAX)).unwrap_or(0)
        });
        let asked = super::super::containers::ContainerLogs {
            follow: req.follow,
            tail: req.tail,
            file: req.file,
            previous: req.previous,
            timestamps: req.timestamps,
            since,
        };
        match super::super::containers::logs(req.target, &asked) {
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
    if req.previous {
        path.push_str("&previous=true");
    }
    if req.timestamps {
        path.push_str("&timestamps=true");
    }
    if let Some(since) = req.since {
        // Whole seconds, as kubectl sends them; a part of one counts as one.
        let secs = since.as_secs() + u64::from(since.subsec_nanos() > 0);
        path.push_str(&format!("&sinceSeconds={}", secs.max(1)));
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

    #[test]
    fn since_takes_go_like_durations() {
        assert_eq!(parse_since("30s").unwrap().as_secs(), 30);
        assert_eq!(parse_since("5m").unwrap().as_secs(), 300);
        assert_eq!(parse_since("1h30m").unwrap().as_secs(), 5400);
        assert!(
            parse_since("soon")
                .unwrap_err()
                .contains("`soon` is not a duration")
        );
    }
}
