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
            output::print(&crate::kube::describe::describe(&object))?;
            Ok(0)
        }
        Err(e) => {
            print_error(&e, None);
            Ok(crate::cli::EXIT_FAILURE)
        }
    }
}
