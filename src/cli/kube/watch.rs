//! `jube get -w`: after the listing, one row (or object) for each change, as `kubectl get -w`
//! prints them, until the daemon ends the watch or the user presses Ctrl-C.

use std::io::BufRead;

use serde_json::Value;

use crate::cli::output;
use crate::kube::client::{Client, ClientError};
use crate::kube::kinds::Kind;
use crate::kube::reconcile::str_at;
use crate::kube::table::{self, TableOptions};

/// How each change is printed.
pub enum Shape {
    /// A table row without the header, columns as the listing had them.
    Row(TableOptions),
    Json,
    Yaml,
    /// `kind/name`.
    Name,
}

/// What to watch: a kind's collection (with its selectors) from the revision the listing showed.
pub struct Watch {
    pub kind: Kind,
    /// The collection path, with its query if it has one.
    pub collection: String,
    pub resource_version: String,
}

impl Watch {
    /// The changes of one named object, from the revision it was read at.
    pub fn object(kind: Kind, namespace: &str, object: &Value) -> Self {
        let name = str_at(object, "/metadata/name").unwrap_or_default();
        Self {
            kind,
            collection: format!(
                "{}?fieldSelector={}",
                kind.collection_path(kind.namespaced().then_some(namespace)),
                super::query_value(&format!("metadata.name={name}"))
            ),
            resource_version: resource_version(object),
        }
    }

    /// The changes of the collection at `path` (selectors and all), from the revision of `list`.
    pub fn list(kind: Kind, path: String, list: &Value) -> Self {
        Self {
            kind,
            collection: path,
            resource_version: resource_version(list),
        }
    }

    /// The path of the watch request.
    pub fn path(&self) -> String {
        let sep = if self.collection.contains('?') { '&' } else { '?' };
        let mut path = format!("{}{sep}watch=1", self.collection);
        if !self.resource_version.is_empty() {
            path.push_str(&format!("&resourceVersion={}", self.resource_version));
        }
        path
    }
}

fn resource_version(object: &Value) -> String {
    str_at(object, "/metadata/resourceVersion")
        .unwrap_or_default()
        .to_owned()
}

/// Prints every event of the watch; an ERROR event ends it with that error.
/// `header`: the first row comes with the table's header, as kubectl prints it when the listing
/// showed none (it was empty, or `--watch-only`).
pub fn follow(client: &Client, watch: &Watch, shape: &Shape, mut header: bool) -> Result<(), WatchError> {
    let response = client.stream(&watch.path()).map_err(WatchError::Client)?;
    for line in std::io::BufReader::new(response).lines() {
        // The daemon going away ends the stream mid-line; that is the end of the watch, not an error.
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let event: Value = serde_json::from_str(&line)
            .map_err(|e| WatchError::Event(format!("the daemon sent an event that is not JSON: {e}")))?;
        match event.get("type").and_then(Value::as_str) {
            Some("ERROR") => {
                let message = event
                    .pointer("/object/message")
                    .and_then(Value::as_str)
                    .unwrap_or("the watch failed");
                return Err(WatchError::Event(message.to_owned()));
            }
            Some("BOOKMARK") => continue,
            _ => {}
        }
        let object = table::with_kind(watch.kind, event.get("object").cloned().unwrap_or_default());
        output::print(&render(watch.kind, object, shape, header).map_err(WatchError::Print)?)
            .map_err(|e| WatchError::Print(e.into()))?;
        header = false;
    }
    Ok(())
}

fn render(kind: Kind, mut object: Value, shape: &Shape, header: bool) -> anyhow::Result<String> {
    crate::kube::managed::hide(&mut object);
    Ok(match shape {
        Shape::Row(opts) => {
            let opts = TableOptions {
                now: jiff::Timestamp::now(),
                ..*opts
            };
            table::render(&table::table(kind, &[object], &opts), header)
        }
        Shape::Json => format!("{}\n", serde_json::to_string_pretty(&object)?),
        Shape::Yaml => format!("---\n{}", table::to_yaml(&object)?),
        Shape::Name => super::get::name_line(kind, &object),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Client(ClientError),
    #[error("{0}")]
    Event(String),
    #[error(transparent)]
    Print(anyhow::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_starts_at_the_listing_s_revision_and_keeps_selectors() {
        let watch = |collection: &str, rv: &str| Watch {
            kind: Kind::Pod,
            collection: collection.into(),
            resource_version: rv.into(),
        };
        assert_eq!(
            watch("/api/v1/namespaces/default/pods", "7").path(),
            "/api/v1/namespaces/default/pods?watch=1&resourceVersion=7"
        );
        assert_eq!(
            watch("/api/v1/pods?labelSelector=app%3Dweb", "").path(),
            "/api/v1/pods?labelSelector=app%3Dweb&watch=1"
        );
    }
}
