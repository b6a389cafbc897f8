//! Events, as the kubelet and the controllers record them: kept in the store with the objects,
//! repeats counted on one event (count and lastTimestamp), and expired after a while so that the
//! store does not grow without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::kube::kinds::Kind;
use crate::kube::podenv;
use crate::kube::store::{Batch, Store, StoreError};

/// How long events are kept unless `jube daemon --event-ttl` says otherwise (Kubernetes' default).
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// Who reports: the kubelet for pods, the controllers for their objects.
pub mod source {
    pub const KUBELET: &str = "kubelet";
    pub const SCHEDULER: &str = "default-scheduler";
    pub const DEPLOYMENT: &str = "deployment-controller";
    pub const REPLICASET: &str = "replicaset-controller";
    pub const REPLICATION: &str = "replication-controller";
    pub const JOB: &str = "job-controller";
}

/// Records events into the store, from a thread of its own: whoever records never waits for the
/// disk, and a burst that outruns the writer is dropped, as Kubernetes' recorder drops it.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Writer>,
    queue: std::sync::mpsc::SyncSender<Pending>,
}

struct Writer {
    store: Arc<Store>,
    node: String,
    /// The event each repeat key was recorded as, so that a repeat counts up instead.
    recorded: Mutex<HashMap<String, String>>,
}

struct Pending {
    object: Value,
    kind: EventType,
    reason: String,
    message: String,
    component: &'static str,
}

/// How many events may wait for the writer.
const QUEUE: usize = 1000;

/// How many queued events the writer stores in one transaction at most.
const BATCH: usize = 255;

impl Recorder {
    pub fn new(store: Arc<Store>) -> Self {
        let inner = Arc::new(Writer {
            store,
            node: podenv::node_name(),
            recorded: Mutex::default(),
        });
        let (queue, pending) = std::sync::mpsc::sync_channel::<Pending>(QUEUE);
        let writer = inner.clone();
        std::thread::spawn(move || {
            while let Ok(first) = pending.recv() {
                // What queued up meanwhile goes in the same transaction: fifty pods starting at
                // once record their events with one write to disk, not two hundred.
                let queued = std::iter::once(first).chain(pending.try_iter().take(BATCH));
                let _ = writer.store.batch(|batch| {
                    for p in queued {
                        writer.write(batch, &p.object, p.kind, &p.reason, &p.message, p.component)?;
                    }
                    Ok(())
                });
            }
        });
        Self { inner, queue }
    }

    /// Records `reason` and `message` about `object` (a stored object with kind and metadata).
    /// A failure to record is not the caller's problem: events are best effort, as in Kubernetes.
    pub fn record(
        &self,
        object: &Value,
        kind: EventType,
        reason: &str,
        message: &str,
        component: &'static str,
    ) {
        let _ = self.queue.try_send(Pending {
            object: object.clone(),
            kind,
            reason: reason.to_owned(),
            message: message.to_owned(),
            component,
        });
    }

    /// Records at once, on the caller's thread.
    pub fn record_now(&self, object: &Value, kind: EventType, reason: &str, message: &str, component: &str) {
        let _ = self
            .inner
            .store
            .batch(|batch| self.inner.write(batch, object, kind, reason, message, component));
    }

    /// True the first time it is asked about `key`: for events that happen once per object.
    pub fn once(&self, key: &str) -> bool {
        let mut recorded = self.inner.recorded.lock().unwrap_or_else(|p| p.into_inner());
        recorded
            .insert(format!("once\u{0}{key}"), String::new())
            .is_none()
    }

    /// Deletes events last seen more than `ttl` ago.
    pub fn expire(&self, ttl: Duration) -> usize {
        self.inner.expire(ttl)
    }
}

impl Writer {
    fn write(
        &self,
        batch: &mut Batch<'_>,
        object: &Value,
        kind: EventType,
        reason: &str,
        message: &str,
        component: &str,
    ) -> Result<(), StoreError> {
        let text = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or_default();
        let namespace = match text("/metadata/namespace") {
            "" => "default",
            ns => ns,
        };
        let uid = text("/metadata/uid");
        let key = format!(
            "{uid}\u{0}{}\u{0}{reason}\u{0}{message}\u{0}{component}",
            kind.as_str()
        );
        let now = jiff::Timestamp::now().to_string();
        let known = self
            .recorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        if let Some(name) = known
            && let Some(mut event) = batch.get(Kind::Event, namespace, &name)?
        {
            let count = event.get("count").and_then(Value::as_u64).unwrap_or(1) + 1;
            event["count"] = json!(count);
            event["lastTimestamp"] = json!(now);
            let revision = crate::kube::api::objects::revision_of(&event);
            return match batch.update(Kind::Event, namespace, event, Some(revision)) {
                Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
                Err(e) => Err(e),
            };
        }
        let nanos = jiff::Timestamp::now().as_nanosecond();
        let name = format!("{}.{:016x}", text("/metadata/name"), nanos as u64);
        let involved = json!({
            "kind": text("/kind"),
            "namespace": namespace,
            "name": text("/metadata/name"),
            "uid": uid,
            "apiVersion": text("/apiVersion"),
            "resourceVersion": text("/metadata/resourceVersion"),
        });
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": kind.as_str(),
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": component, "host": self.node},
            "reportingComponent": component,
            "reportingInstance": self.node,
        });
        match batch.create(Kind::Event, namespace, event) {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
        let mut recorded = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        // Keys of long-gone events are dropped now and then: the map stays bounded.
        if recorded.len() > 10_000 {
            recorded.clear();
        }
        recorded.insert(key, name);
        Ok(())
    }

    fn expire(&self, ttl: Duration) -> usize {
        let Ok((events, _)) = self.store.list(Kind::Event, None) else {
            return 0;
        };
        let now = jiff::Timestamp::now();
        let mut expired = 0;
        for e in events {
            let last = ["/lastTimestamp", "/eventTime", "/metadata/creationTimestamp"]
                .iter()
                .find_map(|p| e.pointer(p).and_then(Value::as_str))
                .and_then(|t| t.parse::<jiff::Timestamp>().ok());
            let old = last.is_some_and(|t| now.duration_since(t).unsigned_abs() > ttl);
            if old {
                let ns = e
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("default");
                let name = e
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if self.store.delete(Kind::Event, ns, name).is_ok() {
                    expired += 1;
                }
            }
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Arc<Store>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("store.db")).unwrap());
        store.ensure_namespace("default").unwrap();
        (dir, store)
    }

    fn wait_for(mut f: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(std::time::Instant::now() < deadline, "timed out");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn repeats_count_up_on_one_event_and_old_events_expire() {
        let (_dir, store) = store();
        let events = Recorder::new(store.clone());
        let pod = json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "web-1", "namespace": "default", "uid": "u1"}});
        let backoff = (
            EventType::Warning,
            "BackOff",
            "Back-off restarting failed container",
        );
        let started = (EventType::Normal, "Started", "Started container web");
        for (kind, reason, message) in [backoff, backoff, started] {
            events.record_now(&pod, kind, reason, message, source::KUBELET);
        }
        let (list, _) = store.list(Kind::Event, Some("default")).unwrap();
        assert_eq!(list.len(), 2);
        // Through the writer thread too.
        events.record(
            &pod,
            EventType::Normal,
            "Pulled",
            "Successfully pulled image",
            source::KUBELET,
        );
        wait_for(|| store.list(Kind::Event, Some("default")).unwrap().0.len() == 3);
        let backoff = list.iter().find(|e| e["reason"] == "BackOff").unwrap();
        assert_eq!(backoff["count"], 2);
        assert_eq!(backoff["type"], "Warning");
        assert_eq!(backoff["involvedObject"]["name"], "web-1");
        assert_eq!(backoff["involvedObject"]["kind"], "Pod");
        assert_eq!(backoff["source"]["component"], "kubelet");
        assert!(
            backoff["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("web-1.")
        );
        assert_eq!(events.expire(Duration::from_secs(3600)), 0);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(events.expire(Duration::from_millis(1)), 3);
        assert!(store.list(Kind::Event, None).unwrap().0.is_empty());
    }
}
