//! The object store: every object by kind, namespace and name in an embedded SQLite database (WAL,
//! synchronous writes), a `resourceVersion` from one global revision counter, and an event log
//! that watches read from.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use crate::fsutil;
use crate::kube::kinds::Kind;

/// How many events the log keeps; older watches start over with a fresh list.
const EVENTS_KEPT: i64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} \"{name}\" not found")]
    NotFound { kind: Kind, name: String },
    #[error("{kind} \"{name}\" already exists")]
    AlreadyExists { kind: Kind, name: String },
    #[error(
        "Operation cannot be fulfilled on {plural} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
    )]
    Conflict { plural: &'static str, name: String },
    #[error("the object store {path} cannot be used: {source}")]
    Database { path: PathBuf, source: rusqlite::Error },
    #[error("the object store cannot be made private to you: {0}")]
    Private(std::io::Error),
    #[error("a stored object is not valid JSON: {0}")]
    Corrupt(#[from] serde_json::Error),
}

/// What happened to an object, as a watch reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum EventType {
    #[serde(rename = "ADDED")]
    Added,
    #[serde(rename = "MODIFIED")]
    Modified,
    #[serde(rename = "DELETED")]
    Deleted,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "ADDED" => EventType::Added,
            "DELETED" => EventType::Deleted,
            _ => EventType::Modified,
        }
    }
}

/// One change, with the object as it was after it (before it, for a delete).
#[derive(Debug, Clone)]
pub struct Event {
    pub revision: u64,
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    pub event_type: EventType,
    pub object: Value,
}

pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    changes: tokio::sync::broadcast::Sender<Event>,
}

impl Store {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = |source| StoreError::Database {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // Manifests hold secrets (kubectl's last-applied annotation keeps stringData in plain
        // text): the database is private, and SQLite gives its -wal and -shm files the
        // database's own mode. Files of an older version are narrowed.
        fsutil::open_private_append(path).map_err(StoreError::Private)?;
        for suffix in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{suffix}", path.display()));
            if side.exists() {
                fsutil::set_mode(&side, fsutil::PRIVATE_FILE_MODE).map_err(StoreError::Private)?;
            }
        }
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db)?;
        // A write is acknowledged only once it is on disk: a crash loses nothing acknowledged.
        conn.pragma_update(None, "synchronous", "FULL").map_err(db)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS objects (
                kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
                revision INTEGER NOT NULL, body TEXT NOT NULL,
                PRIMARY KEY (kind, namespace, name));
             CREATE TABLE IF NOT EXISTS events (
                revision INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
                type TEXT NOT NULL, body TEXT NOT NULL);",
        )
        .map_err(db)?;
        let (changes, _) = tokio::sync::broadcast::channel(1024);
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_owned(),
            changes,
        })
    }

    fn db(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Database {
            path: self.path.clone(),
            source,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Receives every change made from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.changes.subscribe()
    }

    /// The newest revision (0 for an empty store).
    pub fn revision(&self) -> Result<u64, StoreError> {
        let conn = self.lock();
        let rev: Option<i64> = conn
            .query_row("SELECT MAX(revision) FROM events", [], |r| r.get(0))
            .map_err(|e| self.db(e))?;
        Ok(rev.unwrap_or(0) as u64)
    }

    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Result<Option<Value>, StoreError> {
        let conn = self.lock();
        Ok(self.read(&conn, kind, namespace, name)?.map(|(_, object)| object))
    }

    /// The stored revision and body of one object.
    fn read(
        &self,
        conn: &Connection,
        kind: Kind,
        namespace: &str,
        name: &str,
    ) -> Result<Option<(u64, Value)>, StoreError> {
        let row: Option<(i64, String)> = conn
            .query_row(
                "SELECT revision, body FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3",
                params![kind.name(), namespace, name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.db(e))?;
        row.map(|(rev, body)| Ok((rev as u64, serde_json::from_str(&body)?)))
            .transpose()
    }

    /// Every object of a kind, in one namespace or all (`None`), by namespace and name; and the
    /// revision the list is as of.
    pub fn list(&self, kind: Kind, namespace: Option<&str>) -> Result<(Vec<Value>, u64), StoreError> {
        let conn = self.lock();
        let tx = conn.unchecked_transaction().map_err(|e| self.db(e))?;
        let mut stmt = tx
            .prepare(
                "SELECT body FROM objects WHERE kind = ?1 AND (?2 IS NULL OR namespace = ?2)
                 ORDER BY namespace, name",
            )
            .map_err(|e| self.db(e))?;
        let bodies: Vec<String> = stmt
            .query_map(params![kind.name(), namespace], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.db(e))?;
        drop(stmt);
        let rev: Option<i64> = tx
            .query_row("SELECT MAX(revision) FROM events", [], |r| r.get(0))
            .map_err(|e| self.db(e))?;
        tx.finish().map_err(|e| self.db(e))?;
        let objects = bodies
            .iter()
            .map(|b| serde_json::from_str(b))
            .collect::<Result<_, _>>()?;
        Ok((objects, rev.unwrap_or(0) as u64))
    }

    /// Makes several changes in one transaction: one write to disk for all of them, and watchers
    /// see them only once all are committed. An error returned by `changes` rolls back every
    /// change it made; one it handles (an object not found, say) leaves the others in place.
    pub fn batch<T>(
        &self,
        changes: impl FnOnce(&mut Batch<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.lock();
        let tx = conn.unchecked_transaction().map_err(|e| self.db(e))?;
        let mut batch = Batch {
            store: self,
            tx,
            done: Vec::new(),
        };
        let out = changes(&mut batch)?;
        let Batch { tx, done, .. } = batch;
        if !done.is_empty() {
            tx.commit().map_err(|e| self.db(e))?;
        }
        for event in done {
            // Nobody listening is fine: watches and the reconciler subscribe when they run.
            let _ = self.changes.send(event);
        }
        Ok(out)
    }

    /// Stores a new object, giving it a uid, creation time, generation and resourceVersion.
    pub fn create(&self, kind: Kind, namespace: &str, object: Value) -> Result<Value, StoreError> {
        self.batch(|b| b.create(kind, namespace, object))
    }

    /// Replaces an object. With `expected` set, the stored resourceVersion must match it. The uid
    /// and creation time are kept; the generation grows when the spec changed.
    pub fn update(
        &self,
        kind: Kind,
        namespace: &str,
        object: Value,
        expected: Option<u64>,
    ) -> Result<Value, StoreError> {
        self.batch(|b| b.update(kind, namespace, object, expected))
    }

    /// Replaces only the `status` of an object, whatever its resourceVersion.
    pub fn update_status(
        &self,
        kind: Kind,
        namespace: &str,
        name: &str,
        status: Value,
    ) -> Result<Value, StoreError> {
        self.batch(|b| b.update_status(kind, namespace, name, status))
    }

    /// Creates the namespace `name` unless it exists (the daemon makes sure `default` does);
    /// true when it was created now.
    pub fn ensure_namespace(&self, name: &str) -> Result<bool, StoreError> {
        if self.get(Kind::Namespace, "", name)?.is_some() {
            return Ok(false);
        }
        let namespace = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name},
            "spec": {},
            "status": {"phase": "Active"},
        });
        match self.create(Kind::Namespace, "", namespace) {
            Ok(_) => Ok(true),
            Err(StoreError::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes an object and returns it as it was.
    pub fn delete(&self, kind: Kind, namespace: &str, name: &str) -> Result<Value, StoreError> {
        self.batch(|b| b.delete(kind, namespace, name))
    }

    /// The events after `revision`, oldest first; `None` when the log no longer reaches back that
    /// far (the caller must list again).
    pub fn events_since(&self, revision: u64) -> Result<Option<Vec<Event>>, StoreError> {
        let conn = self.lock();
        let oldest: Option<i64> = conn
            .query_row("SELECT MIN(revision) FROM events", [], |r| r.get(0))
            .map_err(|e| self.db(e))?;
        if oldest.is_some_and(|o| (o as u64) > revision + 1) {
            return Ok(None);
        }
        let mut stmt = conn
            .prepare("SELECT revision, kind, namespace, name, type, body FROM events WHERE revision > ?1 ORDER BY revision")
            .map_err(|e| self.db(e))?;
        let rows: Vec<(i64, String, String, String, String, String)> = stmt
            .query_map(params![revision as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.db(e))?;
        let mut events = Vec::new();
        for (rev, kind, namespace, name, ty, body) in rows {
            let Some(kind) = Kind::from_kind(&kind) else {
                continue;
            };
            events.push(Event {
                revision: rev as u64,
                kind,
                namespace,
                name,
                event_type: EventType::parse(&ty),
                object: serde_json::from_str(&body)?,
            });
        }
        Ok(Some(events))
    }
}

/// Changes made in one transaction of [`Store::batch`].
pub struct Batch<'a> {
    store: &'a Store,
    tx: rusqlite::Transaction<'a>,
    /// The changes made so far, announced once committed.
    done: Vec<Event>,
}

impl Batch<'_> {
    fn db(&self, source: rusqlite::Error) -> StoreError {
        self.store.db(source)
    }

    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Result<Option<Value>, StoreError> {
        Ok(self.read(kind, namespace, name)?.map(|(_, object)| object))
    }

    fn read(&self, kind: Kind, namespace: &str, name: &str) -> Result<Option<(u64, Value)>, StoreError> {
        self.store.read(&self.tx, kind, namespace, name)
    }

    /// Records a change: the event (which gives the object its resourceVersion), then the
    /// object's row; it is announced once the batch is committed.
    fn write(
        &mut self,
        kind: Kind,
        namespace: &str,
        name: &str,
        event_type: EventType,
        mut object: Value,
    ) -> Result<Value, StoreError> {
        let revision =
            record(&self.tx, kind, namespace, name, event_type, &mut object).map_err(|e| self.db(e))?;
        let key = params![kind.name(), namespace, name];
        let done = match event_type {
            EventType::Added => self.tx.execute(
                "INSERT INTO objects (kind, namespace, name, revision, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![kind.name(), namespace, name, revision as i64, object.to_string()],
            ),
            EventType::Modified => self.tx.execute(
                "UPDATE objects SET revision = ?4, body = ?5 WHERE kind = ?1 AND namespace = ?2 AND name = ?3",
                params![kind.name(), namespace, name, revision as i64, object.to_string()],
            ),
            EventType::Deleted => {
                self.tx.execute("DELETE FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3", key)
            }
        };
        done.map_err(|e| self.db(e))?;
        self.done.push(Event {
            revision,
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            event_type,
            object: object.clone(),
        });
        Ok(object)
    }

    /// Stores a new object, giving it a uid, creation time, generation and resourceVersion.
    pub fn create(&mut self, kind: Kind, namespace: &str, mut object: Value) -> Result<Value, StoreError> {
        let name = object_name(&object);
        if self.read(kind, namespace, &name)?.is_some() {
            return Err(StoreError::AlreadyExists { kind, name });
        }
        let meta = metadata_mut(&mut object);
        meta.insert("uid".into(), Value::String(new_uid()));
        meta.insert("creationTimestamp".into(), Value::String(now_rfc3339()));
        meta.insert("generation".into(), json!(1));
        if kind.namespaced() {
            meta.insert("namespace".into(), Value::String(namespace.to_owned()));
        } else {
            meta.remove("namespace");
        }
        self.write(kind, namespace, &name, EventType::Added, object)
    }

    /// Replaces an object. With `expected` set, the stored resourceVersion must match it. The uid
    /// and creation time are kept; the generation grows when the spec changed.
    pub fn update(
        &mut self,
        kind: Kind,
        namespace: &str,
        mut object: Value,
        expected: Option<u64>,
    ) -> Result<Value, StoreError> {
        let name = object_name(&object);
        let Some((current_rev, old)) = self.read(kind, namespace, &name)? else {
            return Err(StoreError::NotFound { kind, name });
        };
        if expected.is_some_and(|e| e != current_rev) {
            return Err(StoreError::Conflict {
                plural: kind.plural(),
                name,
            });
        }
        let generation = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let spec_changed = old.get("spec") != object.get("spec");
        let meta = metadata_mut(&mut object);
        for key in ["uid", "creationTimestamp"] {
            if let Some(v) = old.pointer(&format!("/metadata/{key}")) {
                meta.insert(key.into(), v.clone());
            }
        }
        meta.insert(
            "generation".into(),
            json!(if spec_changed { generation + 1 } else { generation }),
        );
        if kind.namespaced() {
            meta.insert("namespace".into(), Value::String(namespace.to_owned()));
        }
        self.write(kind, namespace, &name, EventType::Modified, object)
    }

    /// Replaces only the `status` of an object, whatever its resourceVersion.
    pub fn update_status(
        &mut self,
        kind: Kind,
        namespace: &str,
        name: &str,
        status: Value,
    ) -> Result<Value, StoreError> {
        let Some(mut object) = self.get(kind, namespace, name)? else {
            return Err(StoreError::NotFound {
                kind,
                name: name.to_owned(),
            });
        };
        if object.get("status") == Some(&status) {
            return Ok(object);
        }
        if let Some(map) = object.as_object_mut() {
            map.insert("status".into(), status);
        }
        self.update(kind, namespace, object, None)
    }

    /// Removes an object and returns it as it was.
    pub fn delete(&mut self, kind: Kind, namespace: &str, name: &str) -> Result<Value, StoreError> {
        let Some((_, object)) = self.read(kind, namespace, name)? else {
            return Err(StoreError::NotFound {
                kind,
                name: name.to_owned(),
            });
        };
        self.write(kind, namespace, name, EventType::Deleted, object)
    }
}

/// Appends the event, sets the object's resourceVersion to its revision, trims the log.
fn record(
    tx: &rusqlite::Transaction<'_>,
    kind: Kind,
    namespace: &str,
    name: &str,
    event_type: EventType,
    object: &mut Value,
) -> rusqlite::Result<u64> {
    tx.execute(
        "INSERT INTO events (kind, namespace, name, type, body) VALUES (?1, ?2, ?3, ?4, '{}')",
        params![kind.name(), namespace, name, event_type.as_str()],
    )?;
    let revision = tx.last_insert_rowid() as u64;
    metadata_mut(object).insert("resourceVersion".into(), Value::String(revision.to_string()));
    tx.execute(
        "UPDATE events SET body = ?1 WHERE revision = ?2",
        params![object.to_string(), revision as i64],
    )?;
    tx.execute(
        "DELETE FROM events WHERE revision <= ?1",
        params![revision as i64 - EVENTS_KEPT],
    )?;
    Ok(revision)
}

fn object_name(object: &Value) -> String {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The object's `metadata` map, created when missing.
pub fn metadata_mut(object: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !object.is_object() {
        *object = json!({});
    }
    let map = object.as_object_mut().expect("just made an object");
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta.as_object_mut().expect("just made an object")
}

fn new_uid() -> String {
    let b: [u8; 16] = rand::random();
    format!(
        "{}-{}-4{}-{}-{}",
        hex::encode(&b[0..4]),
        hex::encode(&b[4..6]),
        &hex::encode(&b[6..8])[1..],
        hex::encode(&b[8..10]),
        hex::encode(&b[10..16])
    )
}

pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": []}})
    }

    #[test]
    fn create_get_update_delete_with_revisions() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.db")).unwrap();
        let created = store.create(Kind::Pod, "default", pod("web")).unwrap();
        assert_eq!(created.pointer("/metadata/resourceVersion"), Some(&json!("1")));
        assert_eq!(created.pointer("/metadata/namespace"), Some(&json!("default")));
        let uid = created.pointer("/metadata/uid").unwrap().clone();
        assert!(matches!(
            store.create(Kind::Pod, "default", pod("web")),
            Err(StoreError::AlreadyExists { .. })
        ));
        let mut changed = created.clone();
        changed["spec"]["restartPolicy"] = json!("Never");
        assert!(matches!(
            store.update(Kind::Pod, "default", changed.clone(), Some(99)),
            Err(StoreError::Conflict { .. })
        ));
        let updated = store.update(Kind::Pod, "default", changed, Some(1)).unwrap();
        assert_eq!(updated.pointer("/metadata/resourceVersion"), Some(&json!("2")));
        assert_eq!(updated.pointer("/metadata/generation"), Some(&json!(2)));
        assert_eq!(updated.pointer("/metadata/uid"), Some(&uid));
        let status = store
            .update_status(Kind::Pod, "default", "web", json!({"phase": "Running"}))
            .unwrap();
        assert_eq!(
            status.pointer("/metadata/generation"),
            Some(&json!(2)),
            "status does not bump generation"
        );
        let (list, rev) = store.list(Kind::Pod, None).unwrap();
        assert_eq!((list.len(), rev), (1, 3));
        store.delete(Kind::Pod, "default", "web").unwrap();
        assert!(store.get(Kind::Pod, "default", "web").unwrap().is_none());
        assert!(matches!(
            store.delete(Kind::Pod, "default", "web"),
            Err(StoreError::NotFound { .. })
        ));
        let events = store.events_since(1).unwrap().unwrap();
        let types: Vec<_> = events.iter().map(|e| e.event_type).collect();
        assert_eq!(
            types,
            [EventType::Modified, EventType::Modified, EventType::Deleted]
        );
    }

    #[test]
    fn a_batch_commits_its_changes_together_and_announces_them_after() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.db")).unwrap();
        store.create(Kind::Pod, "default", pod("old")).unwrap();
        let mut changes = store.subscribe();
        store
            .batch(|b| {
                b.create(Kind::Pod, "default", pod("a"))?;
                b.create(Kind::Pod, "default", pod("b"))?;
                // Handled inside: the batch goes on.
                assert!(matches!(
                    b.create(Kind::Pod, "default", pod("a")),
                    Err(StoreError::AlreadyExists { .. })
                ));
                // The batch reads what it wrote before its commit.
                assert!(b.get(Kind::Pod, "default", "b")?.is_some());
                b.update_status(Kind::Pod, "default", "a", json!({"phase": "Running"}))?;
                b.delete(Kind::Pod, "default", "old")?;
                assert!(
                    changes.try_recv().is_err(),
                    "nothing is announced before the commit"
                );
                Ok(())
            })
            .unwrap();
        let announced: Vec<_> = std::iter::from_fn(|| changes.try_recv().ok())
            .map(|e| (e.name, e.event_type, e.revision))
            .collect();
        assert_eq!(
            announced,
            [
                ("a".to_owned(), EventType::Added, 2),
                ("b".to_owned(), EventType::Added, 3),
                ("a".to_owned(), EventType::Modified, 4),
                ("old".to_owned(), EventType::Deleted, 5),
            ]
        );
        let (names, rev) = store.list(Kind::Pod, None).unwrap();
        assert_eq!((names.len(), rev), (2, 5));
    }

    #[test]
    fn a_failed_batch_leaves_nothing_written_and_announces_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.db")).unwrap();
        let mut changes = store.subscribe();
        let failed = store.batch(|b| {
            b.create(Kind::Pod, "default", pod("a"))?;
            b.update_status(Kind::Pod, "default", "missing", json!({}))
        });
        assert!(matches!(failed, Err(StoreError::NotFound { .. })));
        assert!(store.get(Kind::Pod, "default", "a").unwrap().is_none());
        assert!(changes.try_recv().is_err());
        assert_eq!(store.revision().unwrap(), 0);
        // The revision counter did not move: the next write is revision 1.
        let created = store.create(Kind::Pod, "default", pod("a")).unwrap();
        assert_eq!(created.pointer("/metadata/resourceVersion"), Some(&json!("1")));
    }

    #[test]
    fn acknowledged_writes_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        {
            let store = Store::open(&path).unwrap();
            store.create(Kind::Service, "dev", pod("svc")).unwrap();
            store
                .create(Kind::Namespace, "", json!({"metadata": {"name": "dev"}}))
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert!(store.get(Kind::Service, "dev", "svc").unwrap().is_some());
        let ns = store.get(Kind::Namespace, "", "dev").unwrap().unwrap();
        assert!(ns.pointer("/metadata/namespace").is_none());
        assert_eq!(store.revision().unwrap(), 2);
    }
}
