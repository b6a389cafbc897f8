//! Reconcile: a pure function from desired state (the objects in the store) and observed state
//! (jube's containers) to the actions that bring them together. The controller runs it again and
//! again; running it twice on the same input gives the same actions, so nothing is done twice.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};

use crate::container::state::{LastRun, Status};
use crate::kube::selector::LabelSelector;

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

#[cfg(test)]
impl Observed {
    /// A running container `web` of pod `namespace/name`, its container port 8080 leased as
    /// `host`: the fixture of the Service and Endpoints tests.
    pub fn running_web(namespace: &str, name: &str, uid: &str, host: u16) -> Self {
        Self {
            id: name.into(),
            pod: (namespace.into(), name.into()),
            pod_uid: uid.into(),
            container: "web".into(),
            status: Status::Running,
            exit_code: None,
            error: None,
            started_at: None,
            finished_at: None,
            restart_count: 0,
            last_run: None,
            ports_ready: true,
            ports: vec![(8080, host)],
            image: "x".into(),
        }
    }
}

/// Tunables of the restart policy.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub backoff_base: Duration,
    /// How long events are kept.
    pub event_ttl: Duration,
}

/// The controller an object belongs to, as its `ownerReferences` entry names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
}

impl OwnerRef {
    pub fn of(object: &Value) -> Option<Self> {
        Some(Self {
            api_version: str_at(object, "/apiVersion").unwrap_or("v1").to_owned(),
            kind: str_at(object, "/kind")?.to_owned(),
            name: str_at(object, "/metadata/name")?.to_owned(),
            uid: str_at(object, "/metadata/uid")?.to_owned(),
        })
    }

    /// The `ownerReferences` entry of a dependant it controls.
    pub fn to_json(&self) -> Value {
        json!({
            "apiVersion": self.api_version, "kind": self.kind, "name": self.name, "uid": self.uid,
            "controller": true, "blockOwnerDeletion": true,
        })
    }
}

/// Something to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Store a new pod made from a controller's template (named `<owner>-<5 chars>`).
    CreatePod {
        namespace: String,
        owner: OwnerRef,
        template: Value,
    },
    /// Make a controller the owner of a pod that has none and matches its selector.
    AdoptPod {
        namespace: String,
        name: String,
        owner: OwnerRef,
    },
    /// Begin a pod's graceful deletion: it gets its `deletionTimestamp`, its containers stop,
    /// and then it leaves the store ([`Action::FinalizePod`]).
    DeletePod { namespace: String, name: String },
    /// Remove a terminating pod whose containers are all gone.
    FinalizePod { namespace: String, name: String },
    /// Create (when `existing` is None) and start a pod's container.
    StartContainer {
        pod: PodKey,
        container: String,
        existing: Option<String>,
    },
    /// Stop (stop.sh, then kill.sh and signals after `grace`) and remove a container no pod
    /// wants.
    RemoveContainer { id: String, grace: Duration },
    UpdatePodStatus {
        namespace: String,
        name: String,
        status: Value,
    },
    /// Store a new object (a Deployment's ReplicaSet).
    CreateObject {
        kind: String,
        namespace: String,
        object: Value,
    },
    /// Replace an object's spec and metadata (a ReplicaSet scaled by its Deployment).
    ReplaceObject {
        kind: String,
        namespace: String,
        object: Value,
    },
    /// Delete an object and its dependants (an old revision; a finished Job past its TTL).
    DeleteObject {
        kind: String,
        namespace: String,
        name: String,
    },
    /// The status of a controller (RC, RS, Deployment, Job), by its `kind` field.
    UpdateOwnerStatus {
        kind: String,
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
    pub fn requeue(&mut self, after: Duration) {
        self.requeue_after = Some(self.requeue_after.map_or(after, |r| r.min(after)));
    }
}

/// The restart delay after `restarts` restarts: base, doubling, at most five minutes.
pub fn backoff(base: Duration, restarts: u32) -> Duration {
    base.saturating_mul(1u32.checked_shl(restarts.min(20)).unwrap_or(u32::MAX))
        .min(MAX_BACKOFF)
}

/// Why a pod's container could not be created or started, for its waiting status:
/// `(reason, message)` such as `("ErrImagePull", "...")`.
pub type Failures = BTreeMap<(PodKey, String), (String, String)>;

/// How long a pod's containers get to stop when nothing says otherwise, as in Kubernetes.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// Whether the pod's deletion has begun.
pub fn is_terminating(pod: &Value) -> bool {
    pod.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// The grace its containers get: what the deletion asked for, else the pod spec's.
pub fn grace_of(pod: &Value) -> Duration {
    pod.pointer("/metadata/deletionGracePeriodSeconds")
        .or_else(|| pod.pointer("/spec/terminationGracePeriodSeconds"))
        .and_then(Value::as_u64)
        .map_or(DEFAULT_GRACE, Duration::from_secs)
}

/// `owners` are the controllers that keep replicas of a pod template: RCs and ReplicaSets.
pub fn reconcile(
    pods: &[Value],
    owners: &[Value],
    observed: &[Observed],
    failures: &Failures,
    now: jiff::Timestamp,
    config: Config,
) -> Plan {
    reconcile_with(pods, owners, &HashSet::new(), observed, failures, now, config)
}

/// As [`reconcile`]; `other_owner_uids` are the uids of further live controllers (Jobs) whose
/// pods must not be collected.
pub fn reconcile_with(
    pods: &[Value],
    owners: &[Value],
    other_owner_uids: &HashSet<String>,
    observed: &[Observed],
    failures: &Failures,
    now: jiff::Timestamp,
    config: Config,
) -> Plan {
    let mut plan = Plan::default();
    let owner_uids: HashSet<&str> = owners
        .iter()
        .filter_map(|o| str_at(o, "/metadata/uid"))
        .chain(other_owner_uids.iter().map(String::as_str))
        .collect();
    let mut deleted: HashSet<PodKey> = HashSet::new();
    let mut adopted: HashSet<PodKey> = HashSet::new();

    for owner in owners {
        replicate(owner, pods, observed, now, &mut plan, &mut deleted, &mut adopted);
    }
    // Pods whose owner is gone are collected, as Kubernetes' garbage collector does.
    for pod in pods {
        if let Some(owner) = controller_uid(pod)
            && !owner_uids.contains(owner)
            && !is_terminating(pod)
            && deleted.insert(key(pod))
        {
            let (namespace, name) = key(pod);
            plan.actions.push(Action::DeletePod { namespace, name });
        }
    }

    let wanted: BTreeMap<PodKey, &Value> = pods
        .iter()
        .filter(|p| !is_terminating(p))
        .map(|p| (key(p), p))
        .collect();
    let terminating: BTreeMap<PodKey, &Value> = pods
        .iter()
        .filter(|p| is_terminating(p))
        .map(|p| (key(p), p))
        .collect();
    for c in observed {
        let keep = wanted.get(&c.pod).is_some_and(|p| {
            str_at(p, "/metadata/uid") == Some(c.pod_uid.as_str())
                && (container_names(p).contains(&c.container)
                    || init_container_names(p).contains(&c.container))
        });
        if !keep {
            // A pod being deleted gives its containers their grace; a container whose pod is
            // gone altogether (a forced delete) goes at once.
            let grace = terminating
                .get(&c.pod)
                .filter(|p| str_at(p, "/metadata/uid") == Some(c.pod_uid.as_str()))
                .map_or(Duration::ZERO, |p| grace_of(p));
            plan.actions.push(Action::RemoveContainer {
                id: c.id.clone(),
                grace,
            });
        }
    }
    for (pod_key, pod) in &terminating {
        let uid = str_at(pod, "/metadata/uid").unwrap_or_default();
        if !observed.iter().any(|c| &c.pod == pod_key && c.pod_uid == uid) {
            plan.actions.push(Action::FinalizePod {
                namespace: pod_key.0.clone(),
                name: pod_key.1.clone(),
            });
        }
    }
    for (pod_key, pod) in &wanted {
        run_pod(pod_key, pod, observed, failures, now, config, &mut plan);
    }
    plan
}

/// The pods a controller's selector picks: `spec.selector` as a label map (RC) or a
/// `LabelSelector` with `matchLabels` and `matchExpressions` (ReplicaSet, Deployment, Job); an
/// RC without one selects by its template's labels.
pub fn selector_of(owner: &Value) -> Option<LabelSelector> {
    let selector = owner.pointer("/spec/selector");
    let structured =
        selector.is_some_and(|s| s.get("matchLabels").is_some() || s.get("matchExpressions").is_some());
    let parsed = if structured {
        let typed: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector =
            serde_json::from_value(selector.cloned().unwrap_or_default()).ok()?;
        LabelSelector::from_label_selector(&typed).ok()?
    } else {
        let map = selector
            .and_then(Value::as_object)
            .filter(|m| !m.is_empty())
            .or_else(|| {
                owner
                    .pointer("/spec/template/metadata/labels")
                    .and_then(Value::as_object)
            })?;
        LabelSelector::from_json_map(map)
    };
    // An empty selector would pick every pod; Kubernetes refuses one, and so does jube here.
    (!parsed.is_empty()).then_some(parsed)
}

/// Whether a pod still counts for its controller: not being deleted, and not finished.
pub fn is_active(pod: &Value) -> bool {
    !is_terminating(pod) && !matches!(str_at(pod, "/status/phase"), Some("Succeeded" | "Failed"))
}

/// Keeps a controller's replicas: orphans its selector matches are adopted, missing pods created
/// from the current template, extra ones deleted (not-ready and newest first). Pods made from an
/// older template keep running, as in Kubernetes: only new pods get the new template.
fn replicate(
    owner: &Value,
    pods: &[Value],
    observed: &[Observed],
    now: jiff::Timestamp,
    plan: &mut Plan,
    deleted: &mut HashSet<PodKey>,
    adopted: &mut HashSet<PodKey>,
) {
    let Some(reference) = OwnerRef::of(owner) else {
        return;
    };
    let namespace = str_at(owner, "/metadata/namespace")
        .unwrap_or("default")
        .to_owned();
    let replicas = owner
        .pointer("/spec/replicas")
        .and_then(Value::as_u64)
        .unwrap_or(1) as usize;
    let template = owner.pointer("/spec/template").cloned().unwrap_or(Value::Null);
    let selector = selector_of(owner);
    let terminating_owner = is_terminating(owner);
    let mut current: Vec<&Value> = pods
        .iter()
        .filter(|p| controller_uid(p) == Some(reference.uid.as_str()) && is_active(p))
        .collect();
    if !terminating_owner && let Some(selector) = &selector {
        let orphans: Vec<&Value> = pods
            .iter()
            .filter(|p| {
                key(p).0 == namespace
                    && controller_uid(p).is_none()
                    && is_active(p)
                    && selector.matches_object(p)
            })
            .collect();
        for p in orphans {
            if !adopted.insert(key(p)) {
                continue;
            }
            plan.actions.push(Action::AdoptPod {
                namespace: namespace.clone(),
                name: key(p).1,
                owner: reference.clone(),
            });
            current.push(p);
        }
    }
    let min_ready = owner
        .pointer("/spec/minReadySeconds")
        .and_then(Value::as_u64)
        .unwrap_or(0);
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
    if !terminating_owner {
        for _ in current.len()..replicas {
            plan.actions.push(Action::CreatePod {
                namespace: namespace.clone(),
                owner: reference.clone(),
                template: template.clone(),
            });
        }
    }
    let ready = current.iter().filter(|p| pod_ready(p, observed)).count();
    let available = current
        .iter()
        .filter(|p| pod_ready(p, observed) && available_for(p, now, min_ready, plan))
        .count();
    let labeled = current
        .iter()
        .filter(|p| {
            template
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .is_none_or(|l| {
                    l.iter()
                        .all(|(k, v)| p.pointer("/metadata/labels").and_then(|pl| pl.get(k)) == Some(v))
                })
        })
        .count();
    let status = json!({
        "replicas": current.len(),
        "fullyLabeledReplicas": labeled,
        "readyReplicas": ready,
        "availableReplicas": available,
        "observedGeneration": owner.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
    });
    if owner.get("status") != Some(&status) {
        plan.actions.push(Action::UpdateOwnerStatus {
            kind: reference.kind.clone(),
            namespace,
            name: reference.name.clone(),
            status,
        });
    }
}

/// Whether a ready pod has been ready `min_ready` seconds (its Ready condition's transition
/// time); if not yet, the plan looks again when it will be.
pub fn available_for(pod: &Value, now: jiff::Timestamp, min_ready: u64, plan: &mut Plan) -> bool {
    if min_ready == 0 {
        return true;
    }
    let since = ready_since(pod);
    let Some(since) = since else {
        plan.requeue(Duration::from_secs(min_ready));
        return false;
    };
    let ready_for = now.duration_since(since).unsigned_abs();
    let needed = Duration::from_secs(min_ready);
    if ready_for >= needed {
        true
    } else {
        plan.requeue(needed - ready_for);
        false
    }
}

/// When the pod's Ready condition last turned True, if it is True.
pub fn ready_since(pod: &Value) -> Option<jiff::Timestamp> {
    pod.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready" && c["status"] == "True")?
        .get("lastTransitionTime")?
        .as_str()?
        .parse()
        .ok()
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
    let (init_statuses, init) = run_init_containers(pod_key, pod, observed, failures, now, config, plan);
    let mut statuses = Vec::new();
    for name in container_names(pod) {
        let image = pod_container(pod, &name)
            .and_then(|c| str_at(c, "/image"))
            .unwrap_or_default()
            .to_owned();
        if init != Init::Done {
            // The app containers wait for the init containers, as in Kubernetes.
            let waiting = json!({"waiting": {"reason": "PodInitializing"}});
            statuses.push(container_status(&name, &image, 0, false, waiting, None));
            continue;
        }
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
                        let waiting = waiting_state(failures, pod_key, &name, "ContainerCreating");
                        container_status(&name, &image, 0, false, waiting, None)
                    }
                }
            }
            Some(c) => container_decision(c, policy, now, config, plan, pod_key),
        };
        statuses.push(status);
    }
    let mut status = pod_status(pod, &statuses, observed, pod_key, uid, now);
    finish_init_status(&mut status, init_statuses, init, now, pod);
    if pod.get("status") != Some(&status) {
        plan.actions.push(Action::UpdatePodStatus {
            namespace: pod_key.0.clone(),
            name: pod_key.1.clone(),
            status,
        });
    }
}

/// The waiting state of a container not made yet: why its last attempt failed, or `reason`.
fn waiting_state(failures: &Failures, pod_key: &PodKey, name: &str, reason: &str) -> Value {
    match failures.get(&(pod_key.clone(), name.to_owned())) {
        Some((reason, message)) => json!({"waiting": {"reason": reason, "message": message}}),
        None => json!({"waiting": {"reason": reason}}),
    }
}

/// Where a pod's init containers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Init {
    /// All ran to completion (or there are none).
    Done,
    /// One is being made, runs, or waits to be retried.
    Running,
    /// One failed under `restartPolicy: Never`: the pod has failed.
    Failed,
}

/// Runs the init containers one after another, each to completion; a failed one is retried
/// under the restart policy (`Always` counts as `OnFailure` for them), with back-off.
fn run_init_containers(
    pod_key: &PodKey,
    pod: &Value,
    observed: &[Observed],
    failures: &Failures,
    now: jiff::Timestamp,
    config: Config,
    plan: &mut Plan,
) -> (Vec<Value>, Init) {
    let uid = str_at(pod, "/metadata/uid").unwrap_or_default();
    let policy = match str_at(pod, "/spec/restartPolicy") {
        Some("Never") => "Never",
        _ => "OnFailure",
    };
    let inits: Vec<(String, String)> = pod
        .pointer("/spec/initContainers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some((
                str_at(c, "/name")?.to_owned(),
                str_at(c, "/image").unwrap_or_default().to_owned(),
            ))
        })
        .collect();
    let mut statuses = Vec::new();
    let mut state = Init::Done;
    for (name, image) in &inits {
        if state != Init::Done {
            let waiting = json!({"waiting": {"reason": "PodInitializing"}});
            statuses.push(container_status(name, image, 0, false, waiting, None));
            continue;
        }
        let completed_before = pod
            .pointer("/status/initContainerStatuses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|s| s["name"] == name.as_str())
            .filter(|s| s.pointer("/state/terminated/exitCode").and_then(Value::as_i64) == Some(0))
            .cloned();
        let mine = observed
            .iter()
            .find(|c| &c.pod == pod_key && c.pod_uid == uid && &c.container == name);
        let status = match (mine, completed_before) {
            // Done once is done: a completed init container is not run again.
            (None, Some(done)) => done,
            (None, None) => {
                plan.actions.push(Action::StartContainer {
                    pod: pod_key.clone(),
                    container: name.clone(),
                    existing: None,
                });
                let waiting = waiting_state(failures, pod_key, name, "PodInitializing");
                container_status(name, image, 0, false, waiting, None)
            }
            // Ended, but its exit code is not known yet: wait a moment for it rather than guess.
            (Some(c), _) if awaiting_exit_code(c, now) => {
                plan.requeue(Duration::from_millis(200));
                let waiting = json!({"waiting": {"reason": "PodInitializing"}});
                container_status(name, image, c.restart_count, false, waiting, None)
            }
            (Some(c), _) => {
                let mut s = container_decision(c, policy, now, config, plan, pod_key);
                s["ready"] = json!(false);
                s
            }
        };
        let ended = mine.is_none_or(|c| matches!(c.status, Status::Exited | Status::Failed));
        state = match status
            .pointer("/state/terminated/exitCode")
            .and_then(Value::as_i64)
        {
            Some(0) if ended && mine.is_none_or(|c| c.exit_code == Some(0)) => Init::Done,
            Some(_) if ended && policy == "Never" => Init::Failed,
            _ => Init::Running,
        };
        statuses.push(status);
    }
    (statuses, state)
}

/// An ended container whose exit code the daemon has not learnt yet (it reaps right after).
fn awaiting_exit_code(c: &Observed, now: jiff::Timestamp) -> bool {
    c.status == Status::Exited
        && c.exit_code.is_none()
        && c.finished_at
            .is_none_or(|f| now.duration_since(f).unsigned_abs() < Duration::from_secs(5))
}

/// The init containers' part of a pod's status: their statuses, the Initialized condition, and
/// a failed phase when one failed for good.
fn finish_init_status(
    status: &mut Value,
    init_statuses: Vec<Value>,
    init: Init,
    now: jiff::Timestamp,
    pod: &Value,
) {
    if init_statuses.is_empty() {
        return;
    }
    let initialized = init == Init::Done;
    if let Some(conditions) = status.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in conditions.iter_mut().filter(|c| c["type"] == "Initialized") {
            let value = if initialized { "True" } else { "False" };
            let since = pod
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| {
                    cs.iter()
                        .find(|o| o["type"] == "Initialized" && o["status"] == value)
                })
                .and_then(|o| o.get("lastTransitionTime").cloned())
                .unwrap_or_else(|| json!(now.to_string()));
            *c = json!({"type": "Initialized", "status": value, "lastTransitionTime": since});
            if !initialized {
                let pending: Vec<&str> = init_statuses
                    .iter()
                    .filter(|s| s.pointer("/state/terminated/exitCode").and_then(Value::as_i64) != Some(0))
                    .filter_map(|s| s["name"].as_str())
                    .collect();
                c["reason"] = json!("ContainersNotInitialized");
                c["message"] = json!(format!(
                    "containers with incomplete status: [{}]",
                    pending.join(" ")
                ));
            }
        }
    }
    match init {
        Init::Failed => status["phase"] = json!("Failed"),
        Init::Running => status["phase"] = json!("Pending"),
        Init::Done => {}
    }
    status["initContainerStatuses"] = json!(init_statuses);
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
fn pod_status(
    pod: &Value,
    statuses: &[Value],
    observed: &[Observed],
    pod_key: &PodKey,
    uid: &str,
    now: jiff::Timestamp,
) -> Value {
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
    // A condition keeps the time it last changed; kubectl describe and minReadySeconds read it.
    let since = |kind: &str, value: &str| {
        pod.pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind && c["status"] == value))
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(now.to_string()))
    };
    let condition = |kind: &str, value: bool| {
        let value = flag(value);
        let mut c = json!({"type": kind, "status": value, "lastTransitionTime": since(kind, value)});
        if value == "False"
            && let Some((reason, message)) = not_ready_why(statuses, observed, pod_key, uid)
        {
            c["reason"] = json!(reason);
            c["message"] = json!(message);
        }
        c
    };
    let mut status = json!({
        "phase": phase,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": since("PodScheduled", "True")},
            {"type": "Initialized", "status": "True", "lastTransitionTime": since("Initialized", "True")},
            condition("ContainersReady", ready),
            condition("Ready", ready),
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

/// Why a pod is not ready, as the kubelet says it (`ContainersNotReady`, naming the containers),
/// with what jube waits for: ports that do not accept connections yet, or the container's state.
fn not_ready_why(
    statuses: &[Value],
    observed: &[Observed],
    pod_key: &PodKey,
    uid: &str,
) -> Option<(String, String)> {
    let unready: Vec<&Value> = statuses.iter().filter(|s| s["ready"] != json!(true)).collect();
    if unready.is_empty() {
        return None;
    }
    let names: Vec<&str> = unready.iter().filter_map(|s| s["name"].as_str()).collect();
    let details: Vec<String> = unready
        .iter()
        .filter_map(|s| {
            let name = s["name"].as_str()?;
            if s.pointer("/state/running").is_some() {
                let ports: Vec<String> = observed
                    .iter()
                    .find(|c| &c.pod == pod_key && c.pod_uid == uid && c.container == name)
                    .map(|c| {
                        c.ports
                            .iter()
                            .map(|(container, host)| format!("{container} (host port {host})"))
                            .collect()
                    })
                    .unwrap_or_default();
                return Some(format!(
                    "{name}: running, waiting for its ports to accept connections: {}",
                    ports.join(", ")
                ));
            }
            let (state, detail) = ["waiting", "terminated"]
                .into_iter()
                .find_map(|k| s["state"].get(k).map(|d| (k, d)))?;
            let reason = detail["reason"].as_str().unwrap_or(state);
            Some(match detail["message"].as_str().filter(|m| !m.is_empty()) {
                Some(m) => format!("{name}: {state} ({reason}: {m})"),
                None => format!("{name}: {state} ({reason})"),
            })
        })
        .collect();
    Some((
        "ContainersNotReady".to_owned(),
        format!(
            "containers with unready status: [{}]; {}",
            names.join(" "),
            details.join("; ")
        ),
    ))
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
    names_in(pod, "/spec/containers")
}

pub fn init_container_names(pod: &Value) -> Vec<String> {
    names_in(pod, "/spec/initContainers")
}

fn names_in(pod: &Value, list: &str) -> Vec<String> {
    pod.pointer(list)
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A container of the pod's spec by name, app or init container.
pub fn pod_container<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    ["/spec/containers", "/spec/initContainers"]
        .into_iter()
        .find_map(|list| {
            pod.pointer(list)?
                .as_array()?
                .iter()
                .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
        })
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
        event_ttl: Duration::from_secs(3600),
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
        json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                "creationTimestamp": ts(created).to_string(),
                "labels": {"app": "web"},
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

    #[test]
    fn init_containers_run_one_after_another_before_the_app() {
        let mut pod = json!({"metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "spec": {"restartPolicy": "Always",
                "initContainers": [{"name": "one", "image": "x"}, {"name": "two", "image": "x"}],
                "containers": [{"name": "web", "image": "x"}]}});
        let starts = |plan: &Plan| -> Vec<String> {
            plan.actions
                .iter()
                .filter_map(|a| match a {
                    Action::StartContainer { container, .. } => Some(container.clone()),
                    _ => None,
                })
                .collect()
        };
        let status_of = |plan: &Plan| {
            plan.actions
                .iter()
                .find_map(|a| match a {
                    Action::UpdatePodStatus { status, .. } => Some(status.clone()),
                    _ => None,
                })
                .unwrap()
        };
        let mut one = running(&pod);
        one.container = "one".into();
        one.id = "c-one".into();
        // Nothing yet: only the first init container is made.
        let plan = look(&pod, &[], 1);
        assert_eq!(starts(&plan), ["one"]);
        let status = status_of(&plan);
        assert_eq!(status["phase"], "Pending");
        assert_eq!(
            status["initContainerStatuses"][1]["state"]["waiting"]["reason"],
            "PodInitializing"
        );
        pod["status"] = status;
        assert_eq!(crate::kube::table::pod_status(&pod), "Init:0/2");
        // The first runs: nothing else starts.
        let plan = look(&pod, std::slice::from_ref(&one), 2);
        assert!(starts(&plan).is_empty(), "{:?}", plan.actions);
        // The first failed: it is retried (after back-off), the second still waits.
        one.status = Status::Exited;
        one.exit_code = Some(3);
        one.started_at = Some(ts(2));
        one.finished_at = Some(ts(3));
        let plan = look(&pod, std::slice::from_ref(&one), 4);
        assert!(
            starts(&plan).is_empty(),
            "within its back-off: {:?}",
            plan.actions
        );
        pod["status"] = status_of(&plan);
        assert_eq!(crate::kube::table::pod_status(&pod), "Init:CrashLoopBackOff");
        let plan = look(&pod, std::slice::from_ref(&one), 30);
        assert_eq!(starts(&plan), ["one"]);
        // The first completed: the second is made; then the app.
        one.exit_code = Some(0);
        let plan = look(&pod, std::slice::from_ref(&one), 31);
        assert_eq!(starts(&plan), ["two"]);
        let mut two = one.clone();
        two.container = "two".into();
        two.id = "c-two".into();
        let both = [one.clone(), two];
        let plan = look(&pod, &both, 32);
        assert_eq!(starts(&plan), ["web"]);
        let status = status_of(&plan);
        assert_eq!(
            status["conditions"][1],
            json!({"type": "Initialized", "status": "True", "lastTransitionTime": ts(32).to_string()})
        );
        // Under Never, a failed init container fails the pod.
        pod["spec"]["restartPolicy"] = json!("Never");
        pod["status"] = Value::Null;
        one.exit_code = Some(3);
        let plan = look(&pod, std::slice::from_ref(&one), 40);
        assert!(starts(&plan).is_empty());
        let status = status_of(&plan);
        assert_eq!(status["phase"], "Failed");
        pod["status"] = status;
        assert_eq!(crate::kube::table::pod_status(&pod), "Init:Error");
    }

    /// One look at a single pod and what runs of it.
    fn look(pod: &Value, observed: &[Observed], at: i64) -> Plan {
        reconcile(
            std::slice::from_ref(pod),
            &[],
            observed,
            &Failures::new(),
            ts(at),
            CONFIG,
        )
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
                Action::UpdateOwnerStatus { status, .. } => rc_seen["status"] = status,
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
    fn regression_a_template_change_leaves_running_pods_alone() {
        let old = rc(2, "fabric8/java:1");
        let pods: Vec<Value> = (0..2).map(|i| pod_of(&old, &format!("web-{i}"), i)).collect();
        let observed: Vec<Observed> = pods.iter().map(running).collect();
        let plan = reconcile(
            &pods,
            &[rc(3, "fabric8/java:2")],
            &observed,
            &Failures::new(),
            ts(0),
            CONFIG,
        );
        assert_eq!(count(&plan, |a| matches!(a, Action::DeletePod { .. })), 0);
        let created: Vec<&Value> = plan
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::CreatePod { template, .. } => Some(template),
                _ => None,
            })
            .collect();
        assert_eq!(created.len(), 1, "only the missing pod is made");
        assert_eq!(created[0]["spec"]["containers"][0]["image"], "fabric8/java:2");
    }

    #[test]
    fn regression_orphans_matching_the_selector_are_adopted_not_duplicated() {
        let rc = rc(2, "fabric8/java");
        let mut pods: Vec<Value> = (0..3).map(|i| pod_of(&rc, &format!("old-{i}"), i)).collect();
        for p in &mut pods {
            p["metadata"]["ownerReferences"] = json!(null);
        }
        // A pod owned by another controller, or of other labels, is not taken.
        pods[2]["metadata"]["labels"] = json!({"app": "other"});
        let mut theirs = pod_of(&rc, "theirs", 5);
        theirs["metadata"]["ownerReferences"][0]["uid"] = json!("someone-else");
        pods.push(theirs);
        let observed: Vec<Observed> = pods.iter().map(running).collect();
        let plan = reconcile(&pods, &[rc], &observed, &Failures::new(), ts(9), CONFIG);
        let adopted: Vec<&str> = plan
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::AdoptPod { name, owner, .. } => {
                    assert_eq!(owner.uid, "rc-1");
                    Some(name.as_str())
                }
                _ => None,
            })
            .collect();
        assert_eq!(adopted, ["old-0", "old-1"]);
        assert_eq!(count(&plan, |a| matches!(a, Action::CreatePod { .. })), 0);
    }

    #[test]
    fn a_replicaset_selects_by_match_expressions() {
        let mut rs = rc(1, "fabric8/java");
        rs["kind"] = json!("ReplicaSet");
        rs["apiVersion"] = json!("apps/v1");
        rs["spec"]["selector"] =
            json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]});
        let selector = selector_of(&rs).unwrap();
        assert!(selector.matches_object(&json!({"metadata": {"labels": {"app": "api"}}})));
        assert!(!selector.matches_object(&json!({"metadata": {"labels": {"app": "db"}}})));
        let plan = reconcile(&[], &[rs], &[], &Failures::new(), ts(0), CONFIG);
        let owner = plan.actions.iter().find_map(|a| match a {
            Action::CreatePod { owner, .. } => Some(owner.clone()),
            _ => None,
        });
        assert_eq!(
            owner.map(|o| (o.kind, o.api_version)),
            Some(("ReplicaSet".into(), "apps/v1".into()))
        );
    }

    #[test]
    fn regression_a_deleted_pod_stays_until_its_containers_are_gone() {
        let rc = rc(1, "fabric8/java");
        let mut pod = pod_of(&rc, "web-0", 0);
        pod["metadata"]["deletionTimestamp"] = json!(ts(30).to_string());
        pod["metadata"]["deletionGracePeriodSeconds"] = json!(7);
        let c = running(&pod);
        let plan = reconcile(
            &[pod.clone()],
            std::slice::from_ref(&rc),
            &[c],
            &Failures::new(),
            ts(0),
            CONFIG,
        );
        assert!(plan.actions.contains(&Action::RemoveContainer {
            id: "c-web-0".into(),
            grace: Duration::from_secs(7)
        }));
        assert_eq!(count(&plan, |a| matches!(a, Action::FinalizePod { .. })), 0);
        // A terminating pod no longer counts: its replacement is made at once.
        assert_eq!(count(&plan, |a| matches!(a, Action::CreatePod { .. })), 1);
        let gone = reconcile(&[pod], &[rc], &[], &Failures::new(), ts(1), CONFIG);
        assert!(gone.actions.contains(&Action::FinalizePod {
            namespace: "default".into(),
            name: "web-0".into()
        }));
    }

    #[test]
    fn regression_a_not_ready_pod_says_why() {
        let mut pod = pod_of(&rc(1, "fabric8/java"), "web-0", 0);
        pod["metadata"]["ownerReferences"] = json!(null);
        let mut c = running(&pod);
        c.ports_ready = false;
        c.ports = vec![(3000, 48001)];
        let plan = reconcile(&[pod], &[], &[c], &Failures::new(), ts(0), CONFIG);
        let status = plan
            .actions
            .iter()
            .find_map(|a| match a {
                Action::UpdatePodStatus { status, .. } => Some(status.clone()),
                _ => None,
            })
            .unwrap();
        let ready = status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap()
            .clone();
        assert_eq!(ready["status"], "False");
        assert_eq!(ready["reason"], "ContainersNotReady");
        let message = ready["message"].as_str().unwrap();
        assert!(
            message.contains("[web]") && message.contains("3000 (host port 48001)"),
            "{message}"
        );
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
        // The pod's own container waits for the pod's graceful deletion.
        assert!(
            !plan
                .actions
                .iter()
                .any(|a| matches!(a, Action::RemoveContainer { id, .. } if id == "c-web-0"))
        );
        assert!(plan.actions.contains(&Action::RemoveContainer {
            id: "c-gone".into(),
            grace: Duration::ZERO
        }));
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
