//! `jube rollout status|history|undo|restart|pause|resume deploy/NAME`: kubectl's verbs, as a
//! client of the daemon's API; the rules live in `kube::rollout`.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{connect, list_path, object_path, print_error};
use crate::cli::output;
use crate::kube::kinds::{DEFAULT_NAMESPACE, Kind};
use crate::kube::rollout::{self, RolloutState};

const MERGE: &str = "application/merge-patch+json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Verb {
    Status,
    History,
    Undo,
    Restart,
    Pause,
    Resume,
}

#[derive(Debug, clap::Args)]
pub struct RolloutArgs {
    pub verb: Verb,
    /// `deploy/NAME` or `deployment NAME`.
    #[arg(required = true, num_args = 1..=2)]
    pub resource: Vec<String>,
    /// The namespace (default: `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// `undo`: the revision to go back to (default: the one before the current).
    #[arg(long, default_value_t = 0)]
    pub to_revision: u64,
    /// `status`: how long to wait, in seconds (0: forever).
    #[arg(long, default_value_t = 0)]
    pub timeout: u64,
}

pub fn rollout(args: &RolloutArgs) -> anyhow::Result<i32> {
    let (word, name) = match args.resource.as_slice() {
        [one] => match one.split_once('/') {
            Some((w, n)) => (w.to_owned(), n.to_owned()),
            None => return Ok(usage("give the deployment as deploy/NAME")),
        },
        [w, n] => (w.clone(), n.clone()),
        _ => return Ok(usage("give one deployment")),
    };
    if Kind::from_word(&word) != Some(Kind::Deployment) {
        return Ok(usage(&format!(
            "`{word}`: only deployments (deploy) have rollouts"
        )));
    }
    let ns = args.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    let client = connect()?;
    let path = object_path(Kind::Deployment, ns, &name);
    let failed = |e: crate::kube::client::ClientError| -> anyhow::Result<i32> {
        print_error(&e, None);
        Ok(crate::cli::EXIT_FAILURE)
    };
    let deploy = match client.get(&path) {
        Ok(d) => d,
        Err(e) => return failed(e),
    };
    let replica_sets = || -> Result<Vec<Value>, crate::kube::client::ClientError> {
        let list = client.get(&list_path(Kind::ReplicaSet, Some(ns), None))?;
        Ok(list["items"].as_array().cloned().unwrap_or_default())
    };
    let patched = |patch: Value, said: &str| match client.patch(&path, MERGE, &patch) {
        Ok(_) => {
            output::print(&format!("deployment.apps/{name} {said}\n"))?;
            Ok(0)
        }
        Err(e) => failed(e),
    };
    match args.verb {
        Verb::Status => {
            let deadline = (args.timeout > 0).then(|| Instant::now() + Duration::from_secs(args.timeout));
            let mut last = String::new();
            let mut deploy = deploy;
            loop {
                match rollout::status(&deploy) {
                    RolloutState::Done(m) => {
                        output::print(&format!("{m}\n"))?;
                        return Ok(0);
                    }
                    RolloutState::Failed(m) => {
                        eprintln!("error: {m}");
                        return Ok(crate::cli::EXIT_FAILURE);
                    }
                    RolloutState::Waiting(m) => {
                        if m != last {
                            output::print(&format!("{m}\n"))?;
                            last = m;
                        }
                    }
                }
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                if left == Some(Duration::ZERO) {
                    eprintln!("error: timed out waiting for the condition");
                    return Ok(crate::cli::EXIT_FAILURE);
                }
                // Woken by the Deployment's next change, as kubectl is, instead of polling.
                let change = next_change(&client, ns, &name, &deploy, left);
                deploy = match change {
                    Ok(Change::Object(d)) => d,
                    Ok(Change::Deleted) => {
                        eprintln!("error: deployment \"{name}\" was deleted while its rollout was watched");
                        return Ok(crate::cli::EXIT_FAILURE);
                    }
                    // The watch ended (its time, or a revision too old): look again, without
                    // hammering a daemon that keeps ending watches at once.
                    Ok(Change::Ended) => {
                        std::thread::sleep(Duration::from_millis(100));
                        match client.get(&path) {
                            Ok(d) => d,
                            Err(e) => return failed(e),
                        }
                    }
                    Err(e) => return failed(e),
                };
            }
        }
        Verb::History => {
            let sets = match replica_sets() {
                Ok(s) => s,
                Err(e) => return failed(e),
            };
            let mut text = format!("deployment.apps/{name} \nREVISION  CHANGE-CAUSE\n");
            for (revision, cause) in rollout::history(&deploy, &sets) {
                text.push_str(&format!("{revision:<10}{cause}\n"));
            }
            output::print(&text)?;
            Ok(0)
        }
        Verb::Undo => {
            let sets = match replica_sets() {
                Ok(s) => s,
                Err(e) => return failed(e),
            };
            match rollout::undo_patch(&deploy, &sets, args.to_revision) {
                Ok(patch) => patched(patch, "rolled back"),
                Err(m) => {
                    eprintln!("error: {m}");
                    Ok(crate::cli::EXIT_FAILURE)
                }
            }
        }
        Verb::Restart => patched(rollout::restart_patch(jiff::Timestamp::now()), "restarted"),
        Verb::Pause => patched(rollout::pause_patch(true), "paused"),
        Verb::Resume => patched(rollout::pause_patch(false), "resumed"),
    }
}

fn usage(message: &str) -> i32 {
    super::usage_error(&super::Usage(message.to_owned()))
}

/// What a watch of one Deployment saw first.
enum Change {
    Object(Value),
    Deleted,
    Ended,
}

/// Waits (at most `left`, or five minutes) for the first change to `deploy` after the
/// revision it was read at.
fn next_change(
    client: &crate::kube::client::Client,
    namespace: &str,
    name: &str,
    deploy: &Value,
    left: Option<Duration>,
) -> Result<Change, crate::kube::client::ClientError> {
    let since = deploy
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("0");
    let secs = left.map_or(300, |l| l.as_secs().max(1));
    let path = format!(
        "{}?watch=true&fieldSelector=metadata.name%3D{}&resourceVersion={since}&timeoutSeconds={secs}",
        list_path(Kind::Deployment, Some(namespace), None),
        super::query_value(name),
    );
    let response = client.stream(&path)?;
    for line in std::io::BufRead::lines(std::io::BufReader::new(response)) {
        let Ok(line) = line else { break };
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        match event.get("type").and_then(Value::as_str) {
            Some("ADDED" | "MODIFIED") => {
                return Ok(Change::Object(event.get("object").cloned().unwrap_or_default()));
            }
            Some("DELETED") => return Ok(Change::Deleted),
            Some("ERROR") => return Ok(Change::Ended),
            _ => {}
        }
    }
    Ok(Change::Ended)
}
