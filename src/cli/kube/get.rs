//! `jube get`: tables with kubectl's columns, or the objects as JSON, YAML or names.

use serde_json::Value;

use super::watch::{self, Shape, Watch, WatchError};
use super::{FileArgs, NamespaceArgs, Targets, Usage, connect, list_path, object_path, print_error};
use crate::cli::output;
use crate::kube::client::Client;
use crate::kube::kinds::Kind;
use crate::kube::table::{self, TableOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// The table with more columns.
    Wide,
    Json,
    Yaml,
    /// `kind/name` lines.
    Name,
}

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// What to list: `pods` (po), `replicationcontrollers` (rc), `services` (svc), `namespaces` (ns)
    /// or `all`, several joined by commas, then optional names; or `KIND/NAME`.
    pub resources: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    #[command(flatten)]
    pub ns: NamespaceArgs,
    /// Output format (`--format`, as other jube listings spell it, works too).
    #[arg(short = 'o', long, visible_alias = "format", value_enum)]
    pub output: Option<OutputFormat>,
    /// Only objects with these labels: `app=web`, `tier!=db`, `env in (a,b)`, `!beta`.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// A LABELS column.
    #[arg(long)]
    pub show_labels: bool,
    /// Leave out the header line of tables.
    #[arg(long)]
    pub no_headers: bool,
    /// A named object that does not exist is no error.
    #[arg(long)]
    pub ignore_not_found: bool,
    /// After listing, print each change (one kind, or one named object) until Ctrl-C.
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Print only the changes, not the listing first.
    #[arg(long)]
    pub watch_only: bool,
}

/// What one `get` asks the daemon for.
struct Plan {
    /// Objects by name: kind, namespace, name.
    named: Vec<(Kind, String, String)>,
    /// Whole kinds, listed.
    kinds: Vec<Kind>,
}

fn plan(args: &GetArgs) -> Result<Plan, anyhow::Error> {
    let flag = args.ns.namespace.as_deref();
    if !args.files.files.is_empty() {
        if !args.resources.is_empty() {
            return Err(Usage("give either -f or resource arguments, not both".into()).into());
        }
        let mut named = Vec::new();
        for m in super::load_manifests(&args.files)? {
            let ns = super::namespace_of(&m, flag).map_err(anyhow::Error::msg)?;
            named.push((m.kind, ns.unwrap_or_default(), m.name));
        }
        return Ok(Plan {
            named,
            kinds: Vec::new(),
        });
    }
    match super::parse_targets(&args.resources)? {
        Targets::Kinds(kinds) => Ok(Plan {
            named: Vec::new(),
            kinds,
        }),
        Targets::Named(named) => {
            if args.selector.is_some() {
                return Err(Usage("name cannot be provided when a selector is specified".into()).into());
            }
            if args.ns.all_namespaces {
                return Err(
                    Usage("a resource cannot be retrieved by name across all namespaces".into()).into(),
                );
            }
            let ns = args.ns.namespace().to_owned();
            Ok(Plan {
                named: named.into_iter().map(|(k, n)| (k, ns.clone(), n)).collect(),
                kinds: Vec::new(),
            })
        }
    }
}

pub fn get(args: &GetArgs) -> anyhow::Result<i32> {
    let plan = match plan(args) {
        Ok(plan) => plan,
        Err(e) => match e.downcast::<Usage>() {
            Ok(usage) => return Ok(super::usage_error(&usage)),
            Err(e) => return Err(e),
        },
    };
    let watching = args.watch || args.watch_only;
    if watching && plan.named.len() + plan.kinds.len() != 1 {
        return Ok(super::usage_error(&Usage(
            "watch is only supported on one kind of resource or one named object".into(),
        )));
    }
    let client = connect()?;
    let mut failed = false;
    let mut watch = None;
    let mut found: Vec<(Kind, Value)> = Vec::new();
    for (kind, ns, name) in &plan.named {
        match client.get(&object_path(*kind, ns, name)) {
            Ok(object) => {
                watch = Some(Watch::object(*kind, ns, &object));
                found.push((*kind, table::with_kind(*kind, object)));
            }
            Err(e) if e.is_not_found() && args.ignore_not_found => {}
            Err(e) => {
                print_error(&e, None);
                failed = true;
                if super::is_fatal(&e) {
                    return Ok(super::super::EXIT_FAILURE);
                }
            }
        }
    }
    for kind in &plan.kinds {
        match list(&client, *kind, args) {
            Ok((items, watched)) => {
                found.extend(items.into_iter().map(|o| (*kind, o)));
                watch = Some(watched);
            }
            Err(e) => {
                print_error(&e, None);
                return Ok(super::super::EXIT_FAILURE);
            }
        }
    }
    let mut kinds: Vec<Kind> = plan.named.iter().map(|(k, ..)| *k).collect();
    kinds.extend(&plan.kinds);
    kinds.dedup();
    let one_object = plan.named.len() == 1 && plan.kinds.is_empty();
    let listed = !plan.kinds.is_empty();
    let header_shown = !args.watch_only && !found.is_empty();
    if !args.watch_only {
        print(args, &kinds, found, one_object, listed && !watching)?;
    }
    if failed {
        return Ok(super::super::EXIT_FAILURE);
    }
    let Some(watch) = watch.filter(|_| watching) else {
        return Ok(0);
    };
    match watch::follow(&client, &watch, &shape(args), !args.no_headers && !header_shown) {
        Ok(()) => Ok(0),
        Err(WatchError::Client(e)) => {
            print_error(&e, None);
            Ok(super::super::EXIT_FAILURE)
        }
        Err(other) => {
            eprintln!("error: {other}");
            Ok(super::super::EXIT_FAILURE)
        }
    }
}

/// How `-w` prints each change: as the listing was printed.
fn shape(args: &GetArgs) -> Shape {
    match args.output {
        Some(OutputFormat::Json) => Shape::Json,
        Some(OutputFormat::Yaml) => Shape::Yaml,
        Some(OutputFormat::Name) => Shape::Name,
        None | Some(OutputFormat::Wide) => Shape::Row(table_options(args, false)),
    }
}

/// The table's columns as the flags ask; `kind_prefix` when several kinds share the listing.
fn table_options(args: &GetArgs, kind_prefix: bool) -> TableOptions {
    TableOptions {
        wide: args.output == Some(OutputFormat::Wide),
        namespace_column: args.ns.all_namespaces,
        kind_prefix,
        show_labels: args.show_labels,
        now: jiff::Timestamp::now(),
    }
}

/// A kind's objects, and how to watch them from the revision of this listing.
fn list(
    client: &Client,
    kind: Kind,
    args: &GetArgs,
) -> Result<(Vec<Value>, Watch), crate::kube::client::ClientError> {
    let path = list_path(kind, args.ns.scope(), args.selector.as_deref());
    let list = client.get(&path)?;
    let items = list
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|o| table::with_kind(kind, o))
        .collect();
    Ok((items, Watch::list(kind, path, &list)))
}

/// Prints what was found; `listed` when whole kinds were listed (so an empty result is news).
fn print(
    args: &GetArgs,
    kinds: &[Kind],
    found: Vec<(Kind, Value)>,
    one_object: bool,
    listed: bool,
) -> anyhow::Result<()> {
    match args.output {
        Some(OutputFormat::Json) | Some(OutputFormat::Yaml) => {
            let mut found = found;
            for (_, object) in &mut found {
                crate::kube::managed::hide(object);
            }
            let value = if one_object {
                match found.into_iter().next() {
                    Some((_, object)) => object,
                    None => return Ok(()),
                }
            } else {
                table::list(found.into_iter().map(|(_, o)| o).collect())
            };
            let text = if args.output == Some(OutputFormat::Json) {
                format!("{}\n", serde_json::to_string_pretty(&value)?)
            } else {
                table::to_yaml(&value)?
            };
            output::print(&text)?;
        }
        Some(OutputFormat::Name) => {
            let names: String = found.iter().map(|(k, o)| name_line(*k, o)).collect();
            output::print(&names)?;
        }
        None | Some(OutputFormat::Wide) => {
            if found.is_empty() {
                if listed {
                    eprintln!("{}", super::no_resources(args.ns.scope(), kinds));
                }
                return Ok(());
            }
            output::print(&tables(args, kinds, &found))?;
        }
    }
    Ok(())
}

/// One table per kind, in the order asked, separated by blank lines.
fn tables(args: &GetArgs, kinds: &[Kind], found: &[(Kind, Value)]) -> String {
    let mut distinct: Vec<Kind> = Vec::new();
    for k in kinds {
        if !distinct.contains(k) {
            distinct.push(*k);
        }
    }
    let opts = table_options(args, distinct.len() > 1);
    let mut sections = Vec::new();
    for kind in distinct {
        let objects: Vec<Value> = found
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, o)| o.clone())
            .collect();
        if objects.is_empty() {
            continue;
        }
        let t = table::table(kind, &objects, &opts);
        sections.push(table::render(&t, !args.no_headers));
    }
    sections.join("\n")
}

/// `-o name`'s line for an object: `pod/web-x7k2p`.
pub(super) fn name_line(kind: Kind, object: &Value) -> String {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    format!("{}/{name}\n", kind.singular())
}
