//! Reconcile: a pure function from desired state (the objects in the store) and observed state
//! (jube's containers) to the actions that bring them together. The controller runs it again and
//! again; running it twice on the same input gives the same actions, so nothing is done twice.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};

use crate::container::state::{LastRun, Status};

/// A pod's place: namespace and name.
pub type PodKey = (String, String);

/// The longest restart delay, as the kubelet has it.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// A container that ran this long without crashing starts its backoff over.
pub const BACKOFF_RESET: Duration = Duration::from_secs(600);

/// What the reconciler knows about one of a pod's jube containers.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub id: String,
    pub pod: PodKey,
    pub pod_uid: String,
    /// The container's name in the pod spec.
    pub container: String,
    pub status: Status,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub started_at: Option<jiff::Timestamp>,
    pub finished_at: Option<jiff::Timestamp>,
    pub restart_count: u32,
    /// How the previous run ended, once the container was restarted.
    pub last_run: Option<LastRun>,
    /// Every leased port accepts TCP connections.
    pub ports_ready: bool,
    /// `(container port, host port)` of its leases.
    pub ports: Vec<(u16, u16)>,
    pub image: String,
}

/// Tunables of the restart policy.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub backoff_base: Duration,
}

/// Something to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Store a new pod made from an RC's template (the controller names it `<rc>-<5 chars>`).
    CreatePod {
        namespace: String,
        rc: String,
        rc_uid: String,
        template: Value,
        template_hash: String,
    },
    /// Remove a pod from the store (its containers go next pass, as orphans).
    DeletePod { namespace: String, name: String },
    /// Create (when `existing` is None) and start a pod's container.
    StartContainer {
        pod: PodKey,
        container: String,
        existing: Option<String>,
    },
    /// Stop and remove a container no pod wants.
    RemoveContainer { id: String },
    UpdatePodStatus {
        namespace: String,
        name: String,
        status: Value,
    },
    UpdateRcStatus {
        namespace: String,
        name: String,
        status: Value,
    },
}

/// The actions, and when to look again at the latest (a pending restart's time).
#[derive(Debug, Default)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub requeue_after: Option<Duration>,
}

impl Plan {
    fn requeue(&mut self, after: Duration) {
        self.requeue_after = Some(self.requeue_after.map_or(after, |r| r.min(after)));
    }
}

/// The restart delay after `restarts` restarts: base, doubling, at most five minutes.
pub fn backoff(base: Duration, restarts: u32) -> Duration {
    base.saturating_mul(1u32.checked_shl(restarts.min(20)).unwrap_or(u32::MAX))
        .min(MAX_BACKOFF)
}

/// A stable short hash of an RC's pod template, so pods made from an older template are known.
pub fn template_hash(template: &Value) -> String {
    use sha1::Digest;
    let digest = sha1::Sha1::digest(template.to_string().as_bytes());
    hex::encode(&digest[..5])
}

pub const TEMPLATE_HASH_LABEL: &str = "jube.io/template-hash";

/// Why a pod's container could not be created or started, for its waiting status:
/// `(reason, message)` such as `("ErrImagePull", "...")`.
pub type Failures = BTreeMap<(PodKey, String), (String, String)>;

pub fn reconcile(
    pods: &[Value],
    rcs: &[Value],
    observed: &[Observed],
    failures: &Failures,
    now: jiff::Timestamp,
    config: Config,
) -> Plan {
    let mut plan = Plan::default();
    let rc_uids: HashSet<&str> = rcs.iter().filter_map(|rc| str_at(rc, "/metadata/uid")).collect();
    let mut deleted: HashSet<PodKey> = HashSet::new();

    for rc in rcs {
        replicate(rc, pods, observed, &mut plan, &mut deleted);
    }
    // Pods whose owner is gone are collected, as Kubernetes' garbage collector does.
    for pod in pods {
        if let Some(owner) = controller_uid(pod)
            && !rc_uids.contains(owner)
            && deleted.insert(key(pod))
        {
            let (namespace, name) = key(pod);
            plan.actions.push(Action::DeletePod { namespace, name });
        }
    }

    let wanted: BTreeMap<PodKey, &Value> = pods
        .iter()
        .filter(|p| !deleted.contains(&key(p)))
        .map(|p| (key(p), p))
        .collect();
    for c in observed {
        let keep = wanted.get(&c.pod).is_some_and(|p| {
            str_at(p, "/metadata/uid") == Some(c.pod_uid.as_str())
                && container_names(p).contains(&c.container)
        });
        if !keep {
            plan.actions.push(Action::RemoveContainer { id: c.id.clone() });
        }
    }
    for (pod_key, pod) in &wanted {
        run_pod(pod_key, pod, observed, failures, now, config, &mut plan);
    }
    plan
}

/// Keeps an RC's replicas: pods from an outdated template are replaced, missing ones created,
/// extra ones deleted (not-ready and newest first).
fn replicate(
    rc: &Value,
    pods: &[Value],
    observed: &[Observed],
    plan: &mut Plan,
    deleted: &mut HashSet<PodKey>,
) {
    let (Some(uid), Some(name)) = (str_at(rc, "/metadata/uid"), str_at(rc, "/metadata/name")) else {
        return;
    };
    let namespace = str_at(rc, "/metadata/namespace").unwrap_or("default").to_owned();
    let replicas = rc.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(1) as usize;
    let template = rc.pointer("/spec/template").cloned().unwrap_or(Value::Null);
    let hash = template_hash(&template);
    let owned: Vec<&Value> = pods.iter().filter(|p| controller_uid(p) == Some(uid)).collect();
    let (mut current, outdated): (Vec<&Value>, Vec<&Value>) = owned.iter().partition(|p| {
        str_at(
            p,
            &format!("/metadata/labels/{}", TEMPLATE_HASH_LABEL.replace('/', "~1")),
        ) == Some(hash.as_str())
    });
    for p in outdated {
        if deleted.insert(key(p)) {
            plan.actions.push(Action::DeletePod {
                namespace: namespace.clone(),
                name: key(p).1,
            });
        }
    }
    if current.len() > replicas {
        // Not-ready pods go first, then the newest, as the RC manager chooses.
        current.sort_by_key(|p| {
            (
                pod_ready(p, observed),
                std::cmp::Reverse(str_at(p, "/metadata/creationTimestamp").unwrap_or("").to_owned()),
            )
        });
        for p in current.drain(..current.len() - replicas) {
            if deleted.insert(key(p)) {
                plan.actions.push(Action::DeletePod {
                    namespace: namespace.clone(),
                    name: key(p).1,
                });
            }
        }
    }
    for _ in current.len()..replicas {
        plan.actions.push(Action::CreatePod {
            namespace: namespace.clone(),
            rc: name.to_owned(),
            rc_uid: uid.to_owned(),
            template: template.clone(),
            template_hash: hash.clone(),
        });
    }
    let ready = current.iter().filter(|p| pod_ready(p, observed)).count();
    let status = json!({
        "replicas": current.len(),
        "fullyLabeledReplicas": current.len(),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": rc.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
    });
    if rc.get("status") != Some(&status) {
        plan.actions.push(Action::UpdateRcStatus {
            namespace,
            name: name.to_owned(),
            status,
        });
    }
}

/// Whether every container of the pod runs with its ports open.
fn pod_ready(pod: &Value, observed: &[Observed]) -> bool {
    let names = container_names(pod);
    let uid = str_at(pod, "/metadata/uid").unwrap_or_default();
    !names.is_empty()
        && names.iter().all(|n| {
            observed.iter().any(|c| {
                c.pod == key(pod)
                    && c.pod_uid == uid
                    && &c.container == n
                    && c.status == Status::Running
                    && c.ports_ready
            })
        })
}

/// Starts and restarts a pod's containers by its restart policy, and computes its status.
fn run_pod(
    pod_key: &PodKey,
    pod: &Value,
    observed: &[Observed],
    failures: &Failures,
    now: jiff::Timestamp,
    config: Config,
    plan: &mut Plan,
) {
    let uid = str_at(pod, "/metadata/uid").unwrap_or_default();
    let policy = str_at(pod, "/spec/restartPolicy").unwrap_or("Always");
    let mut statuses = Vec::new();
    for name in container_names(pod) {
        let image = pod_container(pod, &name)
            .and_then(|c| str_at(c, "/image"))
            .unwrap_or_default()
            .to_owned();
        let mine = observed
            .iter()
            .find(|c| &c.pod == pod_key && c.pod_uid == uid && c.container == name);
        let previous = previous_status(pod, &name);
        let status = match mine {
            None => {
                // A container that ran to its end under `Never`/`OnFailure` is not made again.
                let finished = previous
                    .as_ref()
                    .and_then(|p| p.pointer("/state/terminated"))
                    .cloned();
                match finished {
                    Some(term)
                        if !should_restart(
                            policy,
                            term.get("exitCode").and_then(Value::as_i64).map(|c| c as i32),
                        ) =>
                    {
                        previous.clone().unwrap_or(Value::Null)
                    }
                    _ => {
                        plan.actions.push(Action::StartContainer {
                            pod: pod_key.clone(),
                            container: name.clone(),
                            existing: None,
                        });
                        let waiting = match failures.get(&(pod_key.clone(), name.clone())) {
                            Some((reason, message)) => {
                                json!({"waiting": {"reason": reason, "message": message}})
                            }
                            None => json!({"waiting": {"reason": "ContainerCreating"}}),
                        };
                        container_status(&name, &image, 0, false, waiting, None)
                    }
                }
            }
            Some(c) => container_decision(c, policy, now, config, plan, pod_key),
        };
        statuses.push(status);
    }
    let status = pod_status(pod, &statuses, observed, pod_key, uid);
    if pod.get("status") != Some(&status) {
        plan.actions.push(Action::UpdatePodStatus {
            namespace: pod_key.0.clone(),
            name: pod_key.1.clone(),
            status,
        });
    }
}

/// What to do with an existing container, and its status as Kubernetes shows it.
fn container_decision(
    c: &Observed,
    policy: &str,
    now: jiff::Timestamp,
    config: Config,
    plan: &mut Plan,
    pod_key: &PodKey,
) -> Value {
    let started = c.started_at.map(|t| t.to_string());
    let finished = c.finished_at.map(|t| t.to_string());
    let status = |ready: bool, state: Value, last: Option<Value>| {
        container_status(&c.container, &c.image, c.restart_count, ready, state, last)
    };
    let mut start = || {
        plan.actions.push(Action::StartContainer {
            pod: pod_key.clone(),
            container: c.container.clone(),
            existing: Some(c.id.clone()),
        })
    };
    let creating = || json!({"waiting": {"reason": "ContainerCreating"}});
    match c.status {
        Status::Running => status(
            c.ports_ready,
            json!({"running": {"startedAt": started}}),
            last_state(c),
        ),
        Status::Created => {
            start();
            status(false, creating(), None)
        }
        Status::Exited | Status::Failed => {
            let code = if c.status == Status::Failed {
                Some(c.exit_code.unwrap_or(1))
            } else {
                c.exit_code
            };
            let terminated = json!({"terminated": {
                "exitCode": code.unwrap_or(0),
                "reason": terminated_reason(c, code),
                "message": c.error,
                "startedAt": started,
                "finishedAt": finished,
            }});
            if !should_restart(policy, code) {
                return status(false, terminated, None);
            }
            let ran = match (c.started_at, c.finished_at) {
                (Some(s), Some(f)) => f.duration_since(s).unsigned_abs(),
                _ => Duration::ZERO,
            };
            let restarts = if ran >= BACKOFF_RESET { 0 } else { c.restart_count };
            let delay = backoff(config.backoff_base, restarts);
            let since_exit = c
                .finished_at
                .map(|f| now.duration_since(f).unsigned_abs())
                .unwrap_or(delay);
            if since_exit >= delay {
                start();
                return status(false, creating(), Some(terminated));
            }
            plan.requeue(delay - since_exit);
            let message = format!(
                "back-off {} restarting failed container={} pod={}",
                human(delay),
                c.container,
                pod_key.1
            );
            status(
                false,
                json!({"waiting": {"reason": "CrashLoopBackOff", "message": message}}),
                Some(terminated),
            )
        }
    }
}

fn terminated_reason(c: &Observed, code: Option<i32>) -> &'static str {
    match (c.status, code) {
        (Status::Failed, _) => "StartError",
        (_, Some(0)) => "Completed",
        _ => "Error",
    }
}

fn last_state(c: &Observed) -> Option<Value> {
    let last = c.last_run.as_ref()?;
    let code = last.exit_code;
    Some(json!({"terminated": {
        "exitCode": code.unwrap_or(0),
        "reason": if code == Some(0) { "Completed" } else { "Error" },
        "startedAt": last.started_at.map(|t| t.to_string()),
        "finishedAt": last.finished_at.map(|t| t.to_string()),
    }}))
}

/// Whether a container that ended with `code` (None: unknown) runs again under `policy`.
pub fn should_restart(policy: &str, code: Option<i32>) -> bool {
    match policy {
        "Never" => false,
        "OnFailure" => code != Some(0),
        _ => true,
    }
}

fn container_status(
    name: &str,
    image: &str,
    restarts: u32,
    ready: bool,
    state: Value,
    last: Option<Value>,
) -> Value {
    let mut s = json!({
        "name": name,
        "image": image,
        "imageID": "",
        "restartCount": restarts,
        "ready": ready,
        "started": state.get("running").is_some(),
        "state": state,
    });
    if let Some(last) = last {
        s["lastState"] = last;
    }
    s
}

/// The pod's phase, conditions and container statuses, as Kubernetes derives them.
fn pod_status(pod: &Value, statuses: &[Value], observed: &[Observed], pod_key: &PodKey, uid: &str) -> Value {
    let running = statuses.iter().any(|s| s.pointer("/state/running").is_some());
    let waiting = statuses.iter().any(|s| s.pointer("/state/waiting").is_some());
    let terminated: Vec<i64> = statuses
        .iter()
        .filter_map(|s| s.pointer("/state/terminated/exitCode").and_then(Value::as_i64))
        .collect();
    let phase = if running || (waiting && statuses.iter().any(|s| s.get("lastState").is_some())) {
        "Running"
    } else if !statuses.is_empty() && terminated.len() == statuses.len() {
        if terminated.iter().all(|c| *c == 0) {
            "Succeeded"
        } else {
            "Failed"
        }
    } else {
        "Pending"
    };
    let ready = !statuses.is_empty()
        && statuses
            .iter()
            .all(|s| s.get("ready") == Some(&Value::Bool(true)));
    let start_time = observed
        .iter()
        .filter(|c| &c.pod == pod_key && c.pod_uid == uid)
        .filter_map(|c| c.started_at)
        .min()
        .map(|t| t.to_string())
        .or_else(|| str_at(pod, "/status/startTime").map(str::to_owned));
    let flag = |b: bool| if b { "True" } else { "False" };
    let mut status = json!({
        "phase": phase,
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "ContainersReady", "status": flag(ready)},
            {"type": "Ready", "status": flag(ready)},
        ],
        "hostIP": "127.0.0.1",
        "podIP": "127.0.0.1",
        "qosClass": "BestEffort",
        "containerStatuses": statuses,
    });
    if let Some(t) = start_time {
        status["startTime"] = json!(t);
    }
    status
}

fn previous_status(pod: &Value, name: &str) -> Option<Value> {
    pod.pointer("/status/containerStatuses")?
        .as_array()?
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
        .cloned()
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{}s", d.as_secs_f64().round())
    }
}

pub fn key(pod: &Value) -> PodKey {
    (
        str_at(pod, "/metadata/namespace").unwrap_or("default").to_owned(),
        str_at(pod, "/metadata/name").unwrap_or_default().to_owned(),
    )
}

pub fn container_names(pod: &Value) -> Vec<String> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

pub fn pod_container<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    pod.pointer("/spec/containers")?
        .as_array()?
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
}

/// The uid of the controller that owns an object (`ownerReferences[controller=true]`).
pub fn controller_uid(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool).unwrap_or(true))
        .and_then(|o| o.get("uid").and_then(Value::as_str))
}

pub fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: Config = Config {
        backoff_base: Duration::from_secs(10),
    };

    fn ts(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn rc(replicas: u64, image: &str) -> Value {
        json!({
            "kind": "ReplicationController",
            "metadata": {"name": "web", "namespace": "default", "uid": "rc-1", "generation": 1},
            "spec": {"replicas": replicas, "selector": {"app": "web"}, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]}}}
        })
    }

    fn pod_of(rc: &Value, name: &str, created: i64) -> Value {
        let hash = template_hash(rc.pointer("/spec/template").unwrap());
        json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                "creationTimestamp": ts(created).to_string(),
                "labels": {"app": "web", TEMPLATE_HASH_LABEL: hash},
                "ownerReferences": [{"kind": "ReplicationController", "name": "web", "uid": "rc-1", "controller": true}]},
            "spec": rc.pointer("/spec/template/spec").unwrap().clone()
        })
    }

    fn running(pod: &Value) -> Observed {
        let (ns, name) = key(pod);
        Observed {
            id: format!("c-{name}"),
            pod: (ns, name),
            pod_uid: str_at(pod, "/metadata/uid").unwrap().to_owned(),
            container: "web".into(),
            status: Status::Running,
            exit_code: None,
            error: None,
            started_at: Some(ts(0)),
            finished_at: None,
            restart_count: 0,
            last_run: None,
            ports_ready: true,
            ports: vec![(8080, 48000)],
            image: "fabric8/java".into(),
        }
    }

    fn count(plan: &Plan, f: impl Fn(&Action) -> bool) -> usize {
        plan.actions.iter().filter(|a| f(a)).count()
    }

    #[test]
    fn an_rc_creates_its_missing_replicas_and_running_it_again_changes_nothing() {
        let rc = rc(3, "fabric8/java");
        let plan = reconcile(
            &[],
            std::slice::from_ref(&rc),
            &[],
            &Failures::new(),
            ts(0),
            CONFIG,
        );
        assert_eq!(count(&plan, |a| matches!(a, Action::CreatePod { .. })), 3);
        let pods: Vec<Value> = (0..3).map(|i| pod_of(&rc, &format!("web-{i}"), i)).collect();
        let observed: Vec<Observed> = pods.iter().map(running).collect();
        let mut rc_seen = rc.clone();
        let mut pods_seen = pods.clone();
        // Apply the status updates of the first pass, as the controller does, then look again.
        for a in reconcile(
            &pods,
            std::slice::from_ref(&rc),
            &observed,
            &Failures::new(),
            ts(5),
            CONFIG,
        )
        .actions
        {
            match a {
                Action::UpdateRcStatus { status, .. } => rc_seen["status"] = status,
                Action::UpdatePodStatus { name, status, .. } => {
                    pods_seen.iter_mut().find(|p| key(p).1 == name).unwrap()["status"] = status
                }
                other => panic!("nothing else to do, yet {other:?}"),
            }
        }
        let again = reconcile(
            &pods_seen,
            std::slice::from_ref(&rc_seen),
            &observed,
            &Failures::new(),
            ts(6),
            CONFIG,
        );
        assert!(again.actions.is_empty(), "{:?}", again.actions);
        assert_eq!(rc_seen.pointer("/status/readyReplicas"), Some(&json!(3)));
    }

    #[test]
    fn scaling_down_removes_not_ready_then_newest_pods() {
        let rc = rc(1, "fabric8/java");
        let pods: Vec<Value> = (0..3).map(|i| pod_of(&rc, &format!("web-{i}"), i)).collect();
        let mut observed: Vec<Observed> = pods.iter().map(running).collect();
        observed[0].ports_ready = false;
        let plan = reconcile(&pods, &[rc], &observed, &Failures::new(), ts(10), CONFIG);
        let deleted: Vec<String> = plan
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::DeletePod { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(deleted, ["web-0", "web-2"]);
    }

    #[test]
    fn a_new_template_replaces_the_pods() {
        let old = rc(2, "fabric8/java:1");
        let pods: Vec<Value> = (0..2).map(|i| pod_of(&old, &format!("web-{i}"), i)).collect();
        let plan = reconcile(
            &pods,
            &[rc(2, "fabric8/java:2")],
            &[],
            &Failures::new(),
            ts(0),
            CONFIG,
        );
        assert_eq!(count(&plan, |a| matches!(a, Action::DeletePod { .. })), 2);
        assert_eq!(count(&plan, |a| matches!(a, Action::CreatePod { .. })), 2);
    }

    #[test]
    fn pods_of_a_deleted_rc_and_containers_of_deleted_pods_go() {
        let rc = rc(1, "fabric8/java");
        let pod = pod_of(&rc, "web-0", 0);
        let stranger = running(&json!({"metadata": {"name": "gone", "namespace": "default", "uid": "u"}}));
        let plan = reconcile(
            std::slice::from_ref(&pod),
            &[],
            &[running(&pod), stranger],
            &Failures::new(),
            ts(0),
            CONFIG,
        );
        assert!(plan.actions.contains(&Action::DeletePod {
            namespace: "default".into(),
            name: "web-0".into()
        }));
        assert!(
            plan.actions
                .contains(&Action::RemoveContainer { id: "c-web-0".into() })
        );
        assert!(
            plan.actions
                .contains(&Action::RemoveContainer { id: "c-gone".into() })
        );
    }

    #[test]
    fn crashes_restart_with_exponential_backoff_and_crash_loop_status() {
        let mut pod = pod_of(&rc(1, "fabric8/java"), "web-0", 0);
        pod["metadata"]["ownerReferences"] = json!(null);
        let mut c = running(&pod);
        c.status = Status::Exited;
        c.exit_code = Some(1);
        c.started_at = Some(ts(0));
        c.finished_at = Some(ts(1));
        c.restart_count = 2; // third crash: 40 s
        let waiting = reconcile(
            &[pod.clone()],
            &[],
            &[c.clone()],
            &Failures::new(),
            ts(30),
            CONFIG,
        );
        assert_eq!(count(&waiting, |a| matches!(a, Action::StartContainer { .. })), 0);
        assert_eq!(waiting.requeue_after, Some(Duration::from_secs(11)));
        let status = waiting.actions.iter().find_map(|a| match a {
            Action::UpdatePodStatus { status, .. } => Some(status.clone()),
            _ => None,
        });
        let status = status.unwrap();
        assert_eq!(
            status.pointer("/containerStatuses/0/state/waiting/reason"),
            Some(&json!("CrashLoopBackOff"))
        );
        assert_eq!(
            status.pointer("/containerStatuses/0/restartCount"),
            Some(&json!(2))
        );
        assert_eq!(status.pointer("/phase"), Some(&json!("Running")));
        let due = reconcile(
            &[pod.clone()],
            &[],
            &[c.clone()],
            &Failures::new(),
            ts(41),
            CONFIG,
        );
        assert!(due.actions.contains(&Action::StartContainer {
            pod: key(&pod),
            container: "web".into(),
            existing: Some(c.id.clone())
        }));
        // Ten minutes of running resets the backoff to its base.
        c.finished_at = Some(ts(700));
        let reset = reconcile(&[pod.clone()], &[], &[c], &Failures::new(), ts(711), CONFIG);
        assert_eq!(count(&reset, |a| matches!(a, Action::StartContainer { .. })), 1);
    }

    #[test]
    fn restart_policies_decide_and_phases_follow() {
        assert!(should_restart("Always", Some(0)));
        assert!(should_restart("OnFailure", Some(2)) && should_restart("OnFailure", None));
        assert!(!should_restart("OnFailure", Some(0)) && !should_restart("Never", Some(1)));
        let mut pod = pod_of(&rc(1, "x"), "job", 0);
        pod["metadata"]["ownerReferences"] = json!(null);
        pod["spec"]["restartPolicy"] = json!("Never");
        let mut c = running(&pod);
        c.status = Status::Exited;
        c.exit_code = Some(0);
        c.finished_at = Some(ts(3));
        let plan = reconcile(
            &[pod.clone()],
            &[],
            &[c.clone()],
            &Failures::new(),
            ts(100),
            CONFIG,
        );
        assert_eq!(count(&plan, |a| matches!(a, Action::StartContainer { .. })), 0);
        let phase = |plan: &Plan| {
            plan.actions.iter().find_map(|a| match a {
                Action::UpdatePodStatus { status, .. } => status.get("phase").cloned(),
                _ => None,
            })
        };
        assert_eq!(phase(&plan), Some(json!("Succeeded")));
        c.exit_code = Some(3);
        assert_eq!(
            phase(&reconcile(
                &[pod.clone()],
                &[],
                &[c],
                &Failures::new(),
                ts(100),
                CONFIG
            )),
            Some(json!("Failed"))
        );
        assert_eq!(
            phase(&reconcile(&[pod], &[], &[], &Failures::new(), ts(100), CONFIG)),
            Some(json!("Pending"))
        );
    }

    #[test]
    fn backoff_doubles_to_five_minutes() {
        let base = Duration::from_secs(10);
        let delays: Vec<u64> = (0..7).map(|n| backoff(base, n).as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(backoff(base, 1000), MAX_BACKOFF);
    }
}
