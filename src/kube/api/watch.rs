//! Watches: `?watch=true` on a list streams `{"type":"ADDED|MODIFIED|DELETED","object":...}` lines,
//! from a resourceVersion (the event log) or from the current state (synthetic ADDED events),
//! then every change as it is made; an object that stops matching the selectors is DELETED for
//! this watch, one that starts matching is ADDED, as Kubernetes' watch cache reports them.

use std::collections::HashSet;
use std::time::Duration;

use axum::body::Bytes;
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::kube::api::Shared;
use crate::kube::api::request::{Params, Target};
use crate::kube::api::stream;
use crate::kube::api::tables::{self, Include};
use crate::kube::kinds::Kind;
use crate::kube::selector::{FieldRequirement, FieldSelector, LabelSelector};
use crate::kube::status::ApiError;
use crate::kube::store::{Event, EventType};

/// Which changes one watch reports, and which objects it has reported as present.
struct Filter {
    kind: Kind,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    present: HashSet<(String, String)>,
    table: Option<Include>,
}

impl Filter {
    fn matches(&self, object: &Value) -> bool {
        self.labels.matches_object(object) && self.fields.matches_object(object)
    }

    /// The event this watch reports for a change, if any.
    fn translate(&mut self, event: &Event) -> Option<EventType> {
        if event.kind != self.kind || self.namespace.as_ref().is_some_and(|ns| *ns != event.namespace) {
            return None;
        }
        let key = (event.namespace.clone(), event.name.clone());
        let matches = self.matches(&event.object);
        let was = self.present.contains(&key);
        let reported = match (event.event_type, was, matches) {
            (EventType::Deleted, was, matches) => (was || matches).then_some(EventType::Deleted),
            (_, true, true) => Some(EventType::Modified),
            (_, false, true) => Some(EventType::Added),
            (_, true, false) => Some(EventType::Deleted),
            (_, false, false) => None,
        };
        match reported {
            Some(EventType::Deleted) => {
                self.present.remove(&key);
            }
            Some(_) => {
                self.present.insert(key);
            }
            None => {}
        }
        reported
    }
}

/// One event as Kubernetes writes it: `type` first, then `object`, one line each.
fn line(event_type: &str, object: &Value) -> Bytes {
    Bytes::from(format!(
        "{{\"type\":{},\"object\":{object}}}\n",
        json!(event_type)
    ))
}

/// An event of the watch: its object as a one-row Table when the client asked for tables.
fn event_line(filter: &Filter, event_type: EventType, object: &Value) -> Bytes {
    match filter.table {
        Some(include) => line(
            type_name(event_type),
            &tables::to_table(filter.kind, std::slice::from_ref(object), None, include),
        ),
        None => line(type_name(event_type), object),
    }
}

fn type_name(t: EventType) -> &'static str {
    match t {
        EventType::Added => "ADDED",
        EventType::Modified => "MODIFIED",
        EventType::Deleted => "DELETED",
    }
}

/// Where a watch starts.
enum Start {
    /// The objects now (as ADDED events), as of a revision.
    Listed(Vec<Value>, u64),
    /// The changes after the revision asked for, and the objects now (to know what is present).
    Replayed(Vec<Event>, u64, Vec<Value>),
    /// The event log no longer reaches back to the revision asked for.
    Expired(u64, u64),
}

pub async fn watch(
    state: Shared,
    target: Target,
    params: Params,
    table: Option<Include>,
) -> Result<Response, ApiError> {
    let labels = params.labels()?;
    let mut fields = params.fields(target.kind)?;
    if let Some(name) = &target.name {
        fields.requirements.push(FieldRequirement {
            field: "metadata.name".into(),
            value: name.clone(),
            equal: true,
        });
    }
    let timeout = params.number("timeoutSeconds")?.map(Duration::from_secs);
    let from = match params.get("resourceVersion") {
        None | Some("") | Some("0") => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "resourceVersion: `{v}` is not a resourceVersion this server gave out"
            ))
        })?),
    };
    // Subscribed before reading, so no change falls between what is read and what is received.
    let changes = state.store.subscribe();
    let store = state.store.clone();
    let (kind, namespace) = (target.kind, target.list_namespace().map(str::to_owned));
    let ns = namespace.clone();
    let start = tokio::task::spawn_blocking(move || -> Result<Start, ApiError> {
        let (objects, revision) = store.list(kind, ns.as_deref())?;
        let Some(from) = from else {
            return Ok(Start::Listed(objects, revision));
        };
        Ok(match store.events_since(from)? {
            Some(events) => Start::Replayed(events, from, objects),
            None => Start::Expired(from, revision),
        })
    })
    .await
    .map_err(|e| ApiError::internal(format!("the watch could not start: {e}")))??;
    let filter = Filter {
        kind,
        namespace,
        labels,
        fields,
        present: HashSet::new(),
        table,
    };
    let (tx, response) = stream::channel("application/json");
    tokio::spawn(run(state, filter, start, changes, tx, timeout));
    Ok(response)
}

async fn run(
    state: Shared,
    mut filter: Filter,
    start: Start,
    mut changes: broadcast::Receiver<Event>,
    tx: mpsc::Sender<Bytes>,
    timeout: Option<Duration>,
) {
    let mut last = match start {
        Start::Expired(from, now) => {
            let gone = ApiError::expired(format!("too old resource version: {from} ({now})"));
            let _ = tx.send(line("ERROR", &gone.to_value())).await;
            return;
        }
        Start::Listed(objects, revision) => {
            for object in objects {
                let event = as_added(filter.kind, object);
                if let Some(t) = filter.translate(&event)
                    && tx.send(event_line(&filter, t, &event.object)).await.is_err()
                {
                    return;
                }
            }
            revision
        }
        Start::Replayed(events, from, objects) => {
            filter.present = objects
                .iter()
                .filter(|o| filter.matches(o))
                .map(|o| key_of(filter.kind, o))
                .collect();
            let mut last = from;
            for event in events {
                last = event.revision;
                if !send(&mut filter, &event, &tx).await {
                    return;
                }
            }
            last
        }
    };
    let mut shutdown = state.shutdown.subscribe();
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let expired = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expired);
    loop {
        let received = tokio::select! {
            _ = tx.closed() => return,
            _ = &mut expired => return,
            _ = shutdown.wait_for(Option::is_some) => return,
            received = changes.recv() => received,
        };
        let events = match received {
            Ok(event) => vec![event],
            // Too slow for the broadcast: read what was missed from the event log.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let store = state.store.clone();
                let missed = tokio::task::spawn_blocking(move || store.events_since(last)).await;
                match missed {
                    Ok(Ok(Some(events))) => events,
                    _ => {
                        let now = state.store.revision().unwrap_or(last);
                        let gone = ApiError::expired(format!("too old resource version: {last} ({now})"));
                        let _ = tx.send(line("ERROR", &gone.to_value())).await;
                        return;
                    }
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        for event in events {
            if event.revision <= last {
                continue;
            }
            last = event.revision;
            if !send(&mut filter, &event, &tx).await {
                return;
            }
        }
    }
}

/// Sends the event if this watch reports it; false once the client is gone.
async fn send(filter: &mut Filter, event: &Event, tx: &mpsc::Sender<Bytes>) -> bool {
    match filter.translate(event) {
        Some(t) => tx.send(event_line(filter, t, &event.object)).await.is_ok(),
        None => true,
    }
}

fn key_of(kind: Kind, object: &Value) -> (String, String) {
    let namespace = if kind.namespaced() {
        object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
    } else {
        ""
    };
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    (namespace.to_owned(), name.to_owned())
}

fn as_added(kind: Kind, object: Value) -> Event {
    let (namespace, name) = key_of(kind, &object);
    Event {
        revision: 0,
        kind,
        namespace,
        name,
        event_type: EventType::Added,
        object,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(t: EventType, name: &str, app: &str) -> Event {
        Event {
            revision: 1,
            kind: Kind::Pod,
            namespace: "default".into(),
            name: name.into(),
            event_type: t,
            object: json!({"metadata": {"name": name, "namespace": "default", "labels": {"app": app}}}),
        }
    }

    #[test]
    fn objects_entering_and_leaving_the_selector_are_added_and_deleted() {
        let mut f = Filter {
            kind: Kind::Pod,
            namespace: Some("default".into()),
            labels: LabelSelector::parse("app=web").unwrap(),
            fields: FieldSelector::default(),
            present: HashSet::new(),
            table: None,
        };
        assert_eq!(f.translate(&event(EventType::Added, "a", "db")), None);
        assert_eq!(
            f.translate(&event(EventType::Modified, "a", "web")),
            Some(EventType::Added)
        );
        assert_eq!(
            f.translate(&event(EventType::Modified, "a", "web")),
            Some(EventType::Modified)
        );
        assert_eq!(
            f.translate(&event(EventType::Modified, "a", "db")),
            Some(EventType::Deleted)
        );
        assert_eq!(f.translate(&event(EventType::Deleted, "a", "db")), None);
        assert_eq!(
            f.translate(&event(EventType::Added, "b", "web")),
            Some(EventType::Added)
        );
        assert_eq!(
            f.translate(&event(EventType::Deleted, "b", "web")),
            Some(EventType::Deleted)
        );
        let mut other_ns = event(EventType::Added, "c", "web");
        other_ns.namespace = "dev".into();
        assert_eq!(f.translate(&other_ns), None);
        let mut other_kind = event(EventType::Added, "d", "web");
        other_kind.kind = Kind::Service;
        assert_eq!(f.translate(&other_kind), None);
    }
}
