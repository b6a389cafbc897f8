//! Deleting as Kubernetes deletes: a pod first gets its `deletionTimestamp` and stays listed
//! (kubectl shows it Terminating) until the controller has stopped its containers; an owner's
//! dependants go with it, or are orphaned, by the propagation policy. In the foreground the owner
//! stays listed, terminating, until they are all gone.

use std::time::Duration;

use serde_json::{Value, json};

use crate::kube::kinds::Kind;
use crate::kube::reconcile::{self, is_terminating};
use crate::kube::store::{Store, StoreError, metadata_mut};

/// What happens to an owner's dependants when it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// They are deleted after the owner (the default).
    Background,
    /// They are deleted before the owner is.
    Foreground,
    /// They stay, without the owner's reference.
    Orphan,
}

/// How many times a write that raced another is tried again.
const ATTEMPTS: usize = 5;

/// Begins a pod's deletion: `deletionTimestamp` is now plus the grace, `deletionGracePeriodSeconds`
/// the grace (`None`: the pod spec's `terminationGracePeriodSeconds`, else 30 s). A grace of zero
/// removes it at once (`kubectl delete --force --grace-period=0`). Returns the pod as it is now.
pub fn delete_pod(
    store: &Store,
    namespace: &str,
    name: &str,
    grace: Option<Duration>,
) -> Result<Value, StoreError> {
    if grace == Some(Duration::ZERO) {
        return store.delete(Kind::Pod, namespace, name);
    }
    for _ in 0..ATTEMPTS {
        let Some(mut pod) = store.get(Kind::Pod, namespace, name)? else {
            return Err(StoreError::NotFound {
                kind: Kind::Pod,
                name: name.to_owned(),
            });
        };
        let grace = grace.unwrap_or_else(|| reconcile::grace_of(&pod));
        // A second delete may only shorten the grace, as in Kubernetes.
        if is_terminating(&pod) && grace >= reconcile::grace_of(&pod) {
            return Ok(pod);
        }
        let revision = crate::kube::api::objects::revision_of(&pod);
        let at = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::try_from(grace).unwrap_or_default())
            .unwrap_or_else(|_| jiff::Timestamp::now())
            .round(jiff::Unit::Second)
            .unwrap_or_else(|_| jiff::Timestamp::now());
        let meta = metadata_mut(&mut pod);
        meta.insert("deletionTimestamp".into(), json!(at.to_string()));
        meta.insert("deletionGracePeriodSeconds".into(), json!(grace.as_secs()));
        match store.update(Kind::Pod, namespace, pod, Some(revision)) {
            Err(StoreError::Conflict { .. }) => continue,
            other => return other,
        }
    }
    Err(StoreError::Conflict {
        plural: Kind::Pod.plural(),
        name: name.to_owned(),
    })
}

/// Deletes an object of any kind: a pod gracefully, anything else at once, then its dependants by
/// `propagation`. Returns the object as it was (a pod: as it is, terminating).
pub fn delete(
    store: &Store,
    kind: Kind,
    namespace: &str,
    name: &str,
    grace: Option<Duration>,
    propagation: Propagation,
) -> Result<Value, StoreError> {
    if kind == Kind::Pod {
        return delete_pod(store, namespace, name, grace);
    }
    if propagation == Propagation::Foreground {
        let marked = mark_foreground(store, kind, namespace, name)?;
        dependants(store, namespace, &marked, Propagation::Foreground);
        // Removed at once when it owns nothing; else answered as it is, terminating.
        return Ok(finish_foreground(store, kind, namespace, marked.clone())?.unwrap_or(marked));
    }
    let deleted = store.delete(kind, namespace, name)?;
    dependants(store, namespace, &deleted, propagation);
    Ok(deleted)
}

/// The finalizer that keeps an owner deleted in the foreground listed until its dependants are
/// gone, as Kubernetes names it.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// Gives the owner its `deletionTimestamp` and the foreground finalizer, so it stays listed (and
/// its controller makes nothing new) while its dependants go. Returns it as it is now.
fn mark_foreground(store: &Store, kind: Kind, namespace: &str, name: &str) -> Result<Value, StoreError> {
    for _ in 0..ATTEMPTS {
        let Some(mut owner) = store.get(kind, namespace, name)? else {
            return Err(StoreError::NotFound {
                kind,
                name: name.to_owned(),
            });
        };
        if is_terminating(&owner) && has_foreground_finalizer(&owner) {
            return Ok(owner);
        }
        let revision = crate::kube::api::objects::revision_of(&owner);
        let now = jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .unwrap_or_else(|_| jiff::Timestamp::now());
        let meta = metadata_mut(&mut owner);
        meta.entry("deletionTimestamp")
            .or_insert_with(|| json!(now.to_string()));
        meta.insert("deletionGracePeriodSeconds".into(), json!(0));
        let finalizers = meta.entry("finalizers").or_insert_with(|| json!([]));
        if let Value::Array(list) = finalizers
            && !list.iter().any(|f| f == FOREGROUND_FINALIZER)
        {
            list.push(json!(FOREGROUND_FINALIZER));
        }
        match store.update(kind, namespace, owner, Some(revision)) {
            Err(StoreError::Conflict { .. }) => continue,
            other => return other,
        }
    }
    Err(StoreError::Conflict {
        plural: kind.plural(),
        name: name.to_owned(),
    })
}

fn has_foreground_finalizer(object: &Value) -> bool {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|f| f == FOREGROUND_FINALIZER))
}

/// Removes an owner being deleted in the foreground once nothing it owns is left in the store
/// (terminating pods count until their containers are gone). `Some` when it was removed.
fn finish_foreground(
    store: &Store,
    kind: Kind,
    namespace: &str,
    owner: Value,
) -> Result<Option<Value>, StoreError> {
    let Some(uid) = owner.pointer("/metadata/uid").and_then(Value::as_str) else {
        return Ok(None);
    };
    for dependant_kind in Kind::ALL.into_iter().filter(|k| k.namespaced()) {
        let (items, _) = store.list(dependant_kind, Some(namespace))?;
        if items.iter().any(|i| owned_by(i, uid)) {
            return Ok(None);
        }
    }
    let name = owner
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match store.delete(kind, namespace, &name) {
        Ok(gone) => Ok(Some(gone)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One pass over every owner deleted in the foreground: dependants a killed daemon left are
/// deleted again, and owners whose dependants are all gone are removed. Returns those removed.
pub fn finish_foreground_deletions(store: &Store) -> Result<Vec<(Kind, String, String)>, StoreError> {
    let mut removed = Vec::new();
    for kind in Kind::ALL
        .into_iter()
        .filter(|k| k.namespaced() && *k != Kind::Pod)
    {
        let (owners, _) = store.list(kind, None)?;
        for owner in owners
            .into_iter()
            .filter(|o| is_terminating(o) && has_foreground_finalizer(o))
        {
            let (namespace, name) = reconcile::key(&owner);
            dependants(store, &namespace, &owner, Propagation::Foreground);
            if finish_foreground(store, kind, &namespace, owner)?.is_some() {
                removed.push((kind, namespace, name));
            }
        }
    }
    Ok(removed)
}

/// Deletes (or orphans) what `owner` owns, and what that owns in turn.
pub fn dependants(store: &Store, namespace: &str, owner: &Value, propagation: Propagation) {
    let Some(uid) = owner.pointer("/metadata/uid").and_then(Value::as_str) else {
        return;
    };
    for kind in Kind::ALL.into_iter().filter(|k| k.namespaced()) {
        let Ok((items, _)) = store.list(kind, Some(namespace)) else {
            continue;
        };
        for mut item in items.into_iter().filter(|i| owned_by(i, uid)) {
            let name = item
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let _ = if propagation == Propagation::Orphan {
                if let Some(Value::Array(refs)) = item.pointer_mut("/metadata/ownerReferences") {
                    refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
                }
                let revision = crate::kube::api::objects::revision_of(&item);
                store.update(kind, namespace, item, Some(revision)).map(drop)
            } else if is_terminating(&item) && kind != Kind::Pod {
                // Already on its way out (a foreground deletion in progress).
                Ok(())
            } else {
                // Foreground goes all the way down: an RS waits for its pods as its owner does.
                delete(store, kind, namespace, &name, None, propagation).map(drop)
            };
        }
    }
}

pub fn owned_by(object: &Value, uid: &str) -> bool {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
        })
}
