//! `jube scale rc/NAME --replicas N`: through the `/scale` subresource when the API offers it
//! (discovery says so), else with a merge patch of `spec.replicas`.

use serde_json::{Value, json};

use super::{FileArgs, Targets, Usage, connect, object_path, print_error};
use crate::cli::output;
use crate::kube::client::{Client, ClientError};
use crate::kube::kinds::Kind;

#[derive(Debug, clap::Args)]
pub struct ScaleArgs {
    /// `rc/NAME...` or `rc NAME...`.
    pub resources: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    /// The namespace (default: `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// The number of pods wanted.
    #[arg(long, required = true)]
    pub replicas: u32,
    /// Only scale when the current replicas are this many.
    #[arg(long)]
    pub current_replicas: Option<u32>,
}

pub fn scale(args: &ScaleArgs) -> anyhow::Result<i32> {
    let targets = match targets(args) {
        Ok(t) => t,
        Err(e) => match e.downcast::<Usage>() {
            Ok(usage) => return Ok(super::usage_error(&usage)),
            Err(e) => return Err(e),
        },
    };
    let client = connect()?;
    let subresource = has_scale_subresource(&client);
    let mut failed = false;
    for (kind, namespace, name) in &targets {
        if !kind.scalable() {
            eprintln!(
                "error: {} \"{name}\" cannot be scaled: only replicationcontrollers (rc), replicasets (rs) and deployments (deploy) have replicas",
                kind.plural()
            );
            failed = true;
            continue;
        }
        let path = object_path(*kind, namespace, name);
        let result = if subresource {
            scale_subresource(&client, &path, args)
        } else {
            scale_patch(&client, &path, args)
        };
        match result {
            Ok(()) => output::print(&format!("{}/{name} scaled\n", kind.singular()))?,
            Err(Failure::Api(e)) => {
                print_error(&e, None);
                failed = true;
                if super::is_fatal(&e) {
                    break;
                }
            }
            Err(Failure::Precondition { want, have }) => {
                eprintln!("error: Expected replicas to be {want}, was {have}");
                failed = true;
            }
        }
    }
    Ok(if failed { super::super::EXIT_FAILURE } else { 0 })
}

fn targets(args: &ScaleArgs) -> anyhow::Result<Vec<(Kind, String, String)>> {
    let flag = args.namespace.as_deref();
    let ns = flag.unwrap_or(crate::kube::kinds::DEFAULT_NAMESPACE).to_owned();
    if !args.files.files.is_empty() {
        if !args.resources.is_empty() {
            return Err(Usage("give either -f or resource arguments, not both".into()).into());
        }
        let mut out = Vec::new();
        for m in super::load_manifests(&args.files)? {
            let namespace = super::namespace_of(&m, flag).map_err(anyhow::Error::msg)?;
            out.push((m.kind, namespace.unwrap_or_default(), m.name));
        }
        return Ok(out);
    }
    match super::parse_targets(&args.resources)? {
        Targets::Named(named) => Ok(named.into_iter().map(|(k, n)| (k, ns.clone(), n)).collect()),
        Targets::Kinds(_) => Err(Usage(
            "resource(s) were provided, but no name was specified: `jube scale rc/NAME --replicas N`".into(),
        )
        .into()),
    }
}

enum Failure {
    Api(ClientError),
    Precondition { want: u32, have: i64 },
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Api(e)
    }
}

/// Whether discovery lists `replicationcontrollers/scale`.
fn has_scale_subresource(client: &Client) -> bool {
    client.get("/api/v1").is_ok_and(|list| lists_scale(&list))
}

fn lists_scale(resources: &Value) -> bool {
    resources
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|r| r.get("name").and_then(Value::as_str) == Some("replicationcontrollers/scale"))
}

fn check_current(args: &ScaleArgs, have: i64) -> Result<(), Failure> {
    match args.current_replicas {
        Some(want) if i64::from(want) != have => Err(Failure::Precondition { want, have }),
        _ => Ok(()),
    }
}

/// GET the Scale, PUT it back with the new replicas; its resourceVersion makes a concurrent change
/// a conflict, retried a few times.
fn scale_subresource(client: &Client, path: &str, args: &ScaleArgs) -> Result<(), Failure> {
    let scale_path = format!("{path}/scale");
    let mut attempts = 0;
    loop {
        let mut scale = client.get(&scale_path)?;
        check_current(
            args,
            scale
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(0),
        )?;
        scale["spec"]["replicas"] = json!(args.replicas);
        match client.request(reqwest::Method::PUT, &scale_path, Some(&scale)) {
            Err(ClientError::Api { code: 409, .. }) if attempts < 3 => attempts += 1,
            other => return other.map(drop).map_err(Failure::Api),
        }
    }
}

fn scale_patch(client: &Client, path: &str, args: &ScaleArgs) -> Result<(), Failure> {
    let rc = client.get(path)?;
    check_current(
        args,
        rc.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1),
    )?;
    client.patch(
        path,
        "application/merge-patch+json",
        &json!({"spec": {"replicas": args.replicas}}),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_tells_whether_to_use_the_scale_subresource() {
        let with = json!({"kind": "APIResourceList", "resources": [
            {"name": "replicationcontrollers"}, {"name": "replicationcontrollers/scale"}]});
        assert!(lists_scale(&with));
        let without = json!({"kind": "APIResourceList", "resources": [{"name": "replicationcontrollers"}]});
        assert!(!lists_scale(&without));
        assert!(!lists_scale(&json!("404 page not found")));
    }
}
