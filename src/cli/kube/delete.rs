//! `jube delete`: by manifest, by name, or every object of a kind (`--all`, `-l`).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{FileArgs, NamespaceArgs, Targets, Usage, connect, list_path, object_path, print_error};
use crate::cli::output;
use crate::container::lifecycle::Containers;
use crate::kube::client::{Client, ClientError};
use crate::kube::kinds::Kind;
use crate::layout::Layout;

#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// `KIND NAME...`, `KIND/NAME...`, or `KIND --all` (`pods`, `rc`, `svc`, `ns`, `all`).
    pub resources: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    #[command(flatten)]
    pub ns: NamespaceArgs,
    /// Every object of the kinds given, in the namespace.
    #[arg(long)]
    pub all: bool,
    /// Only objects with these labels: `app=web`, `tier!=db`, `env in (a,b)`.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// An object that does not exist is no error.
    #[arg(long)]
    pub ignore_not_found: bool,
    /// What happens to what the objects own: `background` (deleted after them), `foreground`
    /// (deleted first; each object stays, terminating, until they are gone) or `orphan` (kept).
    #[arg(long, value_enum, default_value_t = Cascade::Background)]
    pub cascade: Cascade,
    /// Wait until the objects are gone (`--wait=false` returns at once).
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub wait: bool,
}

/// `--cascade`, as kubectl takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Cascade {
    Background,
    Foreground,
    Orphan,
}

impl Cascade {
    /// The API's `propagationPolicy` for it.
    fn policy(self) -> &'static str {
        match self {
            Cascade::Background => "Background",
            Cascade::Foreground => "Foreground",
            Cascade::Orphan => "Orphan",
        }
    }
}

/// One object to delete, and how to name its source in an error.
struct Doomed {
    kind: Kind,
    namespace: String,
    name: String,
    source: Option<String>,
}

/// How long `--wait` waits for an object that is still being deleted.
const WAIT_LIMIT: Duration = Duration::from_secs(120);

pub fn delete(args: &DeleteArgs) -> anyhow::Result<i32> {
    let doomed = match select(args) {
        Ok(Selection::Objects(d)) => d,
        Ok(Selection::Kinds(kinds)) => {
            let client = connect()?;
            let mut doomed = Vec::new();
            for kind in &kinds {
                match list(&client, *kind, args) {
                    Ok(found) => doomed.extend(found),
                    Err(e) => {
                        print_error(&e, None);
                        return Ok(super::super::EXIT_FAILURE);
                    }
                }
            }
            if doomed.is_empty() {
                eprintln!("No resources found");
                return Ok(0);
            }
            return run(&client, args, &doomed);
        }
        Err(e) => match e.downcast::<Usage>() {
            Ok(usage) => return Ok(super::usage_error(&usage)),
            Err(e) => return Err(e),
        },
    };
    let client = connect()?;
    run(&client, args, &doomed)
}

enum Selection {
    Objects(Vec<Doomed>),
    /// Whole kinds (`--all` or `-l`), listed first.
    Kinds(Vec<Kind>),
}

fn select(args: &DeleteArgs) -> anyhow::Result<Selection> {
    let flag = args.ns.namespace.as_deref();
    if !args.files.files.is_empty() {
        if !args.resources.is_empty() {
            return Err(Usage("give either -f or resource arguments, not both".into()).into());
        }
        let mut doomed = Vec::new();
        for m in super::load_manifests(&args.files)? {
            let ns = super::namespace_of(&m, flag).map_err(anyhow::Error::msg)?;
            doomed.push(Doomed {
                kind: m.kind,
                namespace: ns.unwrap_or_default(),
                source: Some(super::source_name(&m).to_owned()),
                name: m.name,
            });
        }
        return Ok(Selection::Objects(doomed));
    }
    if args.resources.is_empty() {
        return Err(Usage(
            "you must provide one or more resources by argument or filename: `jube delete KIND NAME`, \
             `jube delete KIND --all`, `jube delete -f FILE`"
                .into(),
        )
        .into());
    }
    match super::parse_targets(&args.resources)? {
        Targets::Kinds(kinds) if args.all || args.selector.is_some() => Ok(Selection::Kinds(kinds)),
        Targets::Kinds(_) => Err(Usage(
            "resource(s) were provided, but no name was specified; name objects, or delete all of them with --all"
                .into(),
        )
        .into()),
        Targets::Named(_) if args.all || args.selector.is_some() => Err(Usage(
            "names cannot be given together with --all or a selector (-l)".into(),
        )
        .into()),
        Targets::Named(named) => {
            if args.ns.all_namespaces {
                return Err(Usage("a resource cannot be deleted by name across all namespaces".into()).into());
            }
            Ok(Selection::Objects(
                named
                    .into_iter()
                    .map(|(kind, name)| Doomed {
                        kind,
                        namespace: args.ns.namespace().to_owned(),
                        name,
                        source: None,
                    })
                    .collect(),
            ))
        }
    }
}

fn list(client: &Client, kind: Kind, args: &DeleteArgs) -> Result<Vec<Doomed>, ClientError> {
    let list = client.get(&list_path(kind, args.ns.scope(), args.selector.as_deref()))?;
    let items = list
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(items
        .iter()
        .map(|o| {
            let text = |p: &str| {
                o.pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            Doomed {
                kind,
                namespace: text("/metadata/namespace"),
                name: text("/metadata/name"),
                source: None,
            }
        })
        .collect())
}

/// Deletes each object, printing `pod "web" deleted`, then waits for those still terminating
/// and for the containers of the pods that went with them.
fn run(client: &Client, args: &DeleteArgs, doomed: &[Doomed]) -> anyhow::Result<i32> {
    let mut failed = false;
    let mut terminating = Vec::new();
    let mut pods_gone = Vec::new();
    for d in doomed {
        let path = object_path(d.kind, &d.namespace, &d.name);
        let pods = if args.wait && args.cascade != Cascade::Orphan {
            pods_of(client, d)
        } else {
            Vec::new()
        };
        let delete_path = format!("{path}?propagationPolicy={}", args.cascade.policy());
        match client.request(reqwest::Method::DELETE, &delete_path, None) {
            Ok(answer) => {
                output::print(&format!("{} \"{}\" deleted\n", d.kind.singular(), d.name))?;
                pods_gone.extend(pods);
                if answer
                    .pointer("/metadata/deletionTimestamp")
                    .is_some_and(|t| !t.is_null())
                {
                    terminating.push(path);
                }
            }
            Err(e) if e.is_not_found() && args.ignore_not_found => {}
            Err(e) => {
                let context = d.source.as_ref().map(|s| format!("error when deleting \"{s}\""));
                print_error(&e, context.as_deref());
                failed = true;
                if super::is_fatal(&e) {
                    break;
                }
            }
        }
    }
    // What was deleted is waited for even when another object failed, as kubectl does.
    if args.wait && !(terminating.is_empty() && pods_gone.is_empty()) {
        let gone = wait_gone(client, &terminating) && wait_containers_gone(&pods_gone);
        failed |= !gone;
    }
    Ok(if failed { super::super::EXIT_FAILURE } else { 0 })
}

/// Which pods' containers go with an object: a pod's own, an RC's pods (the daemon deletes them
/// with it), every pod of a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PodsGone {
    /// `namespace/name`, as the containers' pod label says.
    Pod(String),
    Namespace(String),
}

impl PodsGone {
    fn matches(&self, pod_label: &str) -> bool {
        match self {
            PodsGone::Pod(key) => pod_label == key,
            PodsGone::Namespace(ns) => pod_label.split_once('/').is_some_and(|(n, _)| n == ns),
        }
    }
}

fn pods_of(client: &Client, d: &Doomed) -> Vec<PodsGone> {
    match d.kind {
        Kind::Pod => vec![PodsGone::Pod(format!("{}/{}", d.namespace, d.name))],
        Kind::Namespace => vec![PodsGone::Namespace(d.name.clone())],
        Kind::ReplicationController | Kind::ReplicaSet | Kind::Job => {
            owned_pods(client, d).unwrap_or_default()
        }
        // A Deployment's pods belong to its ReplicaSets; the daemon collects them in turn.
        Kind::Service
        | Kind::Deployment
        | Kind::ConfigMap
        | Kind::Secret
        | Kind::ServiceAccount
        | Kind::PersistentVolumeClaim
        | Kind::Event
        | Kind::Endpoints
        | Kind::EndpointSlice => Vec::new(),
    }
}

/// The pods an RC owns now (by selector and owner reference), before it is deleted.
fn owned_pods(client: &Client, d: &Doomed) -> Option<Vec<PodsGone>> {
    let rc = client.get(&object_path(d.kind, &d.namespace, &d.name)).ok()?;
    let uid = rc.pointer("/metadata/uid").and_then(Value::as_str)?.to_owned();
    let list = client.get(&list_path(Kind::Pod, Some(&d.namespace), None)).ok()?;
    let owned = list
        .get("items")
        .and_then(Value::as_array)?
        .iter()
        .filter(|p| {
            p.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|o| o.get("uid").and_then(Value::as_str) == Some(uid.as_str()))
        })
        .filter_map(|p| p.pointer("/metadata/name").and_then(Value::as_str))
        .map(|name| PodsGone::Pod(format!("{}/{name}", d.namespace)))
        .collect();
    Some(owned)
}

/// Waits until the daemon has stopped and removed the containers of deleted pods, so that a
/// `jube delete` that returned leaves nothing running (as kubectl returns once pods terminated).
fn wait_containers_gone(pods: &[PodsGone]) -> bool {
    if pods.is_empty() {
        return true;
    }
    let containers = Containers::new(Layout::from_env());
    let deadline = Instant::now() + WAIT_LIMIT;
    loop {
        let left: Vec<String> = containers
            .list()
            .into_iter()
            .flatten()
            .filter(|s| s.owner_pod().is_some_and(|p| pods.iter().any(|g| g.matches(p))))
            .map(|s| s.name)
            .collect();
        if left.is_empty() {
            return true;
        }
        if Instant::now() > deadline {
            eprintln!(
                "error: timed out waiting for the daemon to remove {}; see `jube ps -a` and the daemon's log",
                left.join(", ")
            );
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls until every path answers NotFound, as kubectl's `--wait` does; false on timeout.
fn wait_gone(client: &Client, paths: &[String]) -> bool {
    let deadline = Instant::now() + WAIT_LIMIT;
    for path in paths {
        loop {
            match client.get(path) {
                Err(e) if e.is_not_found() => break,
                Err(e) if super::is_fatal(&e) => {
                    print_error(&e, None);
                    return false;
                }
                _ if Instant::now() > deadline => {
                    eprintln!(
                        "error: timed out waiting for {path} to be deleted; it is still terminating \
                         (see `jube get` and the daemon's log)"
                    );
                    return false;
                }
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_labels_match_what_was_deleted() {
        assert!(PodsGone::Pod("dev/web".into()).matches("dev/web"));
        assert!(!PodsGone::Pod("dev/web".into()).matches("dev/web-2"));
        assert!(PodsGone::Namespace("dev".into()).matches("dev/anything"));
        assert!(!PodsGone::Namespace("dev".into()).matches("devel/web"));
    }
}
