//! `rollout` verbs on a Deployment, as kubectl computes them: whether a rollout is done, the
//! revision history from its ReplicaSets, and the patches of undo, restart, pause and resume.

use serde_json::{Value, json};

use crate::kube::deployment::{HASH_LABEL, revision};
use crate::kube::reconcile::{controller_uid, str_at};

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutState {
    Done(String),
    Waiting(String),
    Failed(String),
}

fn int(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

/// kubectl's `rollout status` rules for a Deployment.
pub fn status(deploy: &Value) -> RolloutState {
    let name = str_at(deploy, "/metadata/name").unwrap_or_default();
    if int(deploy, "/status/observedGeneration") < int(deploy, "/metadata/generation") {
        return RolloutState::Waiting("Waiting for deployment spec update to be observed...".into());
    }
    let deadline = deploy
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded")
        });
    if deadline {
        return RolloutState::Failed(format!("deployment \"{name}\" exceeded its progress deadline"));
    }
    let replicas = deploy
        .pointer("/spec/replicas")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let updated = int(deploy, "/status/updatedReplicas");
    let total = int(deploy, "/status/replicas");
    let available = int(deploy, "/status/availableReplicas");
    if updated < replicas {
        return RolloutState::Waiting(format!(
            "Waiting for deployment \"{name}\" rollout to finish: {updated} out of {replicas} new replicas have been updated..."
        ));
    }
    if total > updated {
        return RolloutState::Waiting(format!(
            "Waiting for deployment \"{name}\" rollout to finish: {} old replicas are pending termination...",
            total - updated
        ));
    }
    if available < updated {
        return RolloutState::Waiting(format!(
            "Waiting for deployment \"{name}\" rollout to finish: {available} of {updated} updated replicas are available..."
        ));
    }
    RolloutState::Done(format!("deployment \"{name}\" successfully rolled out"))
}

/// The Deployment's ReplicaSets, oldest revision first.
pub fn owned<'a>(deploy: &Value, replica_sets: &'a [Value]) -> Vec<&'a Value> {
    let uid = str_at(deploy, "/metadata/uid").unwrap_or_default();
    let mut out: Vec<&Value> = replica_sets
        .iter()
        .filter(|rs| controller_uid(rs) == Some(uid))
        .collect();
    out.sort_by_key(|rs| revision(rs));
    out
}

/// `(revision, change cause)` of each revision.
pub fn history(deploy: &Value, replica_sets: &[Value]) -> Vec<(u64, String)> {
    owned(deploy, replica_sets)
        .into_iter()
        .map(|rs| {
            let cause = rs
                .pointer("/metadata/annotations")
                .and_then(|a| a.get("kubernetes.io/change-cause"))
                .and_then(Value::as_str)
                .unwrap_or("<none>")
                .to_owned();
            (revision(rs), cause)
        })
        .collect()
}

/// The merge patch that puts back the template of `to_revision` (0: the one before the
/// current).
pub fn undo_patch(deploy: &Value, replica_sets: &[Value], to_revision: u64) -> Result<Value, String> {
    let sets = owned(deploy, replica_sets);
    let current = sets.iter().map(|rs| revision(rs)).max().unwrap_or(0);
    let target = if to_revision == 0 {
        sets.iter().rev().find(|rs| revision(rs) < current)
    } else {
        sets.iter().find(|rs| revision(rs) == to_revision)
    };
    let Some(rs) = target else {
        return Err(if to_revision == 0 {
            "no rollout history found for deployment".into()
        } else {
            format!("unable to find specified revision {to_revision} in history")
        });
    };
    let mut template = rs.pointer("/spec/template").cloned().unwrap_or(Value::Null);
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(HASH_LABEL);
    }
    // A merge patch replaces lists whole and merges maps; the template is put whole, so keys
    // the current template has and the old one lacks are cleared first.
    let mut patch_template = clear_missing(
        deploy.pointer("/spec/template").unwrap_or(&Value::Null),
        &template,
    );
    if patch_template.is_null() {
        patch_template = template;
    }
    Ok(json!({"spec": {"template": patch_template}}))
}

/// `new` as a merge patch over `old`: `new`'s values, and null for keys only `old` has.
fn clear_missing(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut out = serde_json::Map::new();
            for k in o.keys().filter(|k| !n.contains_key(*k)) {
                out.insert(k.clone(), Value::Null);
            }
            for (k, v) in n {
                out.insert(k.clone(), o.get(k).map_or(v.clone(), |ov| clear_missing(ov, v)));
            }
            Value::Object(out)
        }
        _ => new.clone(),
    }
}

/// `rollout restart`: a new template annotation makes a new revision.
pub fn restart_patch(now: jiff::Timestamp) -> Value {
    json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": now.round(jiff::Unit::Second).unwrap_or(now).to_string()
    }}}}})
}

pub fn pause_patch(paused: bool) -> Value {
    json!({"spec": {"paused": paused}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(rev: u64, image: &str) -> Value {
        json!({"metadata": {"name": format!("web-{rev}"), "annotations": {"deployment.kubernetes.io/revision": rev.to_string()},
            "ownerReferences": [{"uid": "d", "controller": true}]},
            "spec": {"template": {"metadata": {"labels": {"app": "web", "pod-template-hash": "x"}},
                "spec": {"containers": [{"name": "web", "image": image}]}}}})
    }

    #[test]
    fn undo_puts_back_the_previous_template_without_its_hash() {
        let d = json!({"metadata": {"uid": "d"}, "spec": {"template": {"metadata": {"labels": {"app": "web"},
            "annotations": {"a": "b"}}, "spec": {"containers": [{"name": "web", "image": "v2"}]}}}});
        let sets = [rs(1, "v1"), rs(2, "v2")];
        let patch = undo_patch(&d, &sets, 0).unwrap();
        assert_eq!(patch["spec"]["template"]["spec"]["containers"][0]["image"], "v1");
        assert_eq!(patch["spec"]["template"]["metadata"]["annotations"], Value::Null);
        assert!(
            patch["spec"]["template"]["metadata"]["labels"]
                .get(HASH_LABEL)
                .is_none()
        );
        assert!(undo_patch(&d, &sets, 7).is_err());
        assert_eq!(history(&d, &sets).iter().map(|h| h.0).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn status_follows_kubectl() {
        let d = |updated: u64, total: u64, available: u64| {
            json!({"metadata": {"name": "web", "generation": 1}, "spec": {"replicas": 2},
                "status": {"observedGeneration": 1, "updatedReplicas": updated, "replicas": total, "availableReplicas": available}})
        };
        assert!(matches!(status(&d(1, 2, 2)), RolloutState::Waiting(_)));
        assert!(matches!(status(&d(2, 3, 2)), RolloutState::Waiting(m) if m.contains("old replicas")));
        assert!(matches!(status(&d(2, 2, 2)), RolloutState::Done(_)));
    }
}
