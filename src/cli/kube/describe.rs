//! `jube describe KIND NAME`: an object as `kubectl describe` prints it.

use super::{Usage, connect, object_path, print_error};
use crate::cli::output;
use crate::kube::kinds::{DEFAULT_NAMESPACE, Kind};

#[derive(Debug, clap::Args)]
pub struct DescribeArgs {
    /// `KIND NAME` or `KIND/NAME`.
    #[arg(required = true, num_args = 1..=2)]
    pub resource: Vec<String>,
    /// The namespace (default: `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

pub fn describe(args: &DescribeArgs) -> anyhow::Result<i32> {
    let (word, name) = match args.resource.as_slice() {
        [one] => match one.split_once('/') {
            Some((w, n)) => (w.to_owned(), n.to_owned()),
            None => return Ok(super::usage_error(&Usage("give KIND NAME or KIND/NAME".into()))),
        },
        [w, n] => (w.clone(), n.clone()),
        _ => return Ok(super::usage_error(&Usage("give one object".into()))),
    };
    let Some(kind) = Kind::from_word(&word) else {
        return Ok(super::usage_error(&Usage(format!(
            "the server doesn't have a resource type \"{word}\""
        ))));
    };
    let ns = args.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    let client = connect()?;
    match client.get(&object_path(kind, ns, &name)) {
        Ok(object) => {
            // As kubectl does: the events about this very object (its uid), oldest first.
            let uid = object
                .pointer("/metadata/uid")
                .and_then(|u| u.as_str())
                .unwrap_or_default();
            let selector =
                format!("involvedObject.name={name},involvedObject.namespace={ns},involvedObject.uid={uid}");
            let path = format!(
                "{}?fieldSelector={}",
                Kind::Event.collection_path(Some(ns)),
                percent_encoding::utf8_percent_encode(&selector, percent_encoding::NON_ALPHANUMERIC)
            );
            let events = client
                .get(&path)
                .ok()
                .and_then(|list| list.get("items").and_then(|i| i.as_array()).cloned())
                .unwrap_or_default();
            let endpoints = (kind == Kind::Service)
                .then(|| client.get(&object_path(Kind::Endpoints, ns, &name)).ok())
                .flatten();
            output::print(&crate::kube::describe::describe_with_events(
                &object,
                &events,
                endpoints.as_ref(),
                jiff::Timestamp::now(),
            ))?;
            Ok(0)
        }
        Err(e) => {
            print_error(&e, None);
            Ok(crate::cli::EXIT_FAILURE)
        }
    }
}
