//! What containers use: CPU (cores, over the time between two readings) and resident memory,
//! summed over each container's whole process tree, and what the whole machine uses. One reading
//! is one pass of sysinfo over every process, so `jube top`, `kubectl top` and the node's figures
//! all count the same way on Linux, macOS and Windows.
//!
//! A container's processes are its leader (the pid in `state.json`), on Windows the members of the
//! leader's Job Object, every process whose environment carries its marker
//! (`JUBE_CONTAINER_ID=<id>`, inherited by whatever the scripts start, even a daemon that left the
//! session), and every descendant of those (a child that cleared its environment is still the
//! container's).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use sysinfo::{ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System, UpdateKind};

use crate::container::lifecycle::CONTAINER_ID_VAR;
use crate::container::platform;
use crate::container::state::{State, Status};

/// What one container used.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    /// CPU in cores (1.0 is one core busy) over the reading's window; `None` for the first
    /// reading of a meter, which has nothing to compare with.
    pub cpu_cores: Option<f64>,
    /// Resident memory, bytes.
    pub memory_bytes: u64,
    /// How many processes the tree holds now.
    pub processes: usize,
}

/// What the whole machine used.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MachineUsage {
    pub cpu_cores: Option<f64>,
    pub memory_bytes: u64,
    pub cpus: usize,
    pub memory_total: u64,
}

/// One reading: every running container's usage, keyed by container id.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    pub containers: HashMap<String, Usage>,
    pub machine: MachineUsage,
    /// The time the CPU figures cover (none for a first reading).
    pub window: Option<Duration>,
    pub at: Option<jiff::Timestamp>,
}

/// A process as one pass saw it.
struct Proc {
    parent: Option<u32>,
    /// CPU time used since it started, milliseconds.
    cpu_ms: u64,
    memory: u64,
    /// The container id its environment names.
    container: Option<String>,
}

/// Takes readings; CPU is the difference between two of them, so keep one meter and read it
/// again and again.
pub struct Meter {
    system: Option<System>,
    last: Option<Pass>,
}

/// When a pass ran, and the CPU time of every process it saw, by (pid, start time): a pid reused
/// since is a new process.
struct Pass {
    at: Instant,
    cpu_ms: HashMap<(u32, u64), u64>,
}

impl Default for Meter {
    fn default() -> Self {
        Self::new()
    }
}

impl Meter {
    pub fn new() -> Self {
        Self {
            system: System::new().ok(),
            last: None,
        }
    }

    /// How long ago the last reading was taken.
    pub fn age(&self) -> Option<Duration> {
        self.last.as_ref().map(|pass| pass.at.elapsed())
    }

    /// A reading whose CPU figures cover at least `window`: the previous reading is used when it
    /// is between `window` and `max_age` old, else one is taken now and another `window` later.
    pub fn read_over(&mut self, states: &[State], window: Duration, max_age: Duration) -> Reading {
        let fresh_enough = self.age().is_some_and(|age| age >= window && age <= max_age);
        if !fresh_enough {
            self.read(states);
            std::thread::sleep(window.max(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL));
        }
        self.read(states)
    }

    /// One pass over every process: the usage of each running container of `states` since the
    /// previous pass.
    pub fn read(&mut self, states: &[State]) -> Reading {
        let Some(system) = self.system.as_mut() else {
            return Reading::default();
        };
        let now = Instant::now();
        let kind = ProcessRefreshKind::nothing()
            .without_tasks()
            .with_cpu()
            .with_memory()
            .with_environ(UpdateKind::Always);
        system.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
        system.refresh_cpu_usage();
        system.refresh_memory();
        let me = std::process::id();
        let marker = format!("{CONTAINER_ID_VAR}=");
        let mut procs: HashMap<u32, Proc> = HashMap::new();
        let mut cpu_now: HashMap<(u32, u64), u64> = HashMap::new();
        for (pid, p) in system.processes() {
            let pid = pid.as_u32();
            if pid == me || matches!(p.status(), ProcessStatus::Zombie | ProcessStatus::Dead) {
                continue;
            }
            cpu_now.insert((pid, p.start_time()), p.accumulated_cpu_time());
            let container = p.environ().iter().find_map(|e| {
                e.to_str()?
                    .strip_prefix(&marker)
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned)
            });
            procs.insert(
                pid,
                Proc {
                    parent: p.parent().map(|p| p.as_u32()),
                    cpu_ms: p.accumulated_cpu_time(),
                    memory: p.memory(),
                    container,
                },
            );
        }
        let starts: HashMap<u32, u64> = cpu_now.keys().map(|(pid, start)| (*pid, *start)).collect();
        let window = self.last.as_ref().map(|pass| now.duration_since(pass.at));
        // CPU a process used since the last pass; one that pass did not see started since, so all
        // of its time counts.
        let used_since = |pid: u32, cpu_ms: u64| -> Option<u64> {
            let before = &self.last.as_ref()?.cpu_ms;
            let key = (pid, *starts.get(&pid)?);
            Some(cpu_ms.saturating_sub(before.get(&key).copied().unwrap_or(0)))
        };
        let children = children_of(&procs);
        let mut containers = HashMap::new();
        for state in states.iter().filter(|s| s.status == Status::Running) {
            // On Windows the leader is the supervisor, whose Job Object holds the whole tree.
            let mut roots: Vec<u32> = state.process.map(|p| p.pid).into_iter().collect();
            if let Some(leader) = roots.first().copied() {
                roots.extend(platform::job_members(leader).unwrap_or_default());
            }
            let tree = tree_of(&procs, &children, &roots, &state.id);
            let mut usage = Usage {
                processes: tree.len(),
                ..Usage::default()
            };
            let mut cpu_ms = Some(0u64);
            for pid in &tree {
                let p = &procs[pid];
                usage.memory_bytes += p.memory;
                cpu_ms = cpu_ms.zip(used_since(*pid, p.cpu_ms)).map(|(a, b)| a + b);
            }
            usage.cpu_cores = cpu_ms.zip(window).map(|(ms, w)| cores(ms, w));
            containers.insert(state.id.clone(), usage);
        }
        let cpus = system.cpus().len().max(1);
        let machine = MachineUsage {
            cpu_cores: window.map(|_| f64::from(system.global_cpu_usage()) / 100.0 * cpus as f64),
            memory_bytes: system.total_memory().saturating_sub(system.available_memory()),
            cpus,
            memory_total: system.total_memory(),
        };
        self.last = Some(Pass {
            at: now,
            cpu_ms: cpu_now,
        });
        Reading {
            containers,
            machine,
            window,
            at: Some(jiff::Timestamp::now()),
        }
    }
}

fn cores(cpu_ms: u64, window: Duration) -> f64 {
    let secs = window.as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    cpu_ms as f64 / 1000.0 / secs
}

fn children_of(procs: &HashMap<u32, Proc>) -> HashMap<u32, Vec<u32>> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (pid, p) in procs {
        if let Some(parent) = p.parent.filter(|parent| parent != pid) {
            children.entry(parent).or_default().push(*pid);
        }
    }
    children
}

/// The container's processes: `roots` (its leader, and its Job Object's members on Windows) and
/// the processes marked as its, with all their descendants. A descendant marked as another
/// container's is that container's, not this one's.
fn tree_of(
    procs: &HashMap<u32, Proc>,
    children: &HashMap<u32, Vec<u32>>,
    roots: &[u32],
    id: &str,
) -> HashSet<u32> {
    let mine = |pid: &u32| {
        procs
            .get(pid)
            .is_some_and(|p| p.container.as_deref().is_none_or(|c| c == id))
    };
    let mut todo: Vec<u32> = roots.iter().copied().filter(mine).collect();
    todo.extend(
        procs
            .iter()
            .filter(|(_, p)| p.container.as_deref() == Some(id))
            .map(|(pid, _)| *pid),
    );
    let mut tree = HashSet::new();
    while let Some(pid) = todo.pop() {
        if !tree.insert(pid) {
            continue;
        }
        todo.extend(children.get(&pid).into_iter().flatten().filter(|c| mine(c)));
    }
    tree
}

/// `1.5` cores as Kubernetes writes a quantity: `1500m`; below a millicore, nanocores (`250000n`).
pub fn cpu_quantity(cores: f64) -> String {
    let nanos = (cores.max(0.0) * 1e9).round() as u64;
    if nanos == 0 || nanos >= 1_000_000 {
        format!("{}m", nanos / 1_000_000)
    } else {
        format!("{nanos}n")
    }
}

/// Bytes as Kubernetes writes a memory quantity: `1234Ki` (what metrics-server reports).
pub fn memory_quantity(bytes: u64) -> String {
    if bytes.is_multiple_of(1024) {
        format!("{}Ki", bytes / 1024)
    } else {
        bytes.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(parent: u32, container: Option<&str>) -> Proc {
        Proc {
            parent: Some(parent),
            cpu_ms: 0,
            memory: 0,
            container: container.map(str::to_owned),
        }
    }

    #[test]
    fn the_tree_takes_descendants_and_marked_orphans_but_not_other_containers() {
        let procs: HashMap<u32, Proc> = [
            (10, proc(1, Some("a"))),  // leader
            (11, proc(10, None)),      // child that cleared its environment
            (12, proc(11, None)),      // grandchild
            (13, proc(10, Some("b"))), // started by a but marked as b's
            (20, proc(1, Some("a"))),  // a daemon of a's, reparented to init
            (21, proc(20, None)),      // its child
            (30, proc(1, None)),       // someone else
        ]
        .into_iter()
        .collect();
        let children = children_of(&procs);
        let mut tree: Vec<u32> = tree_of(&procs, &children, &[10], "a").into_iter().collect();
        tree.sort();
        assert_eq!(tree, [10, 11, 12, 20, 21]);
        let mut b: Vec<u32> = tree_of(&procs, &children, &[], "b").into_iter().collect();
        b.sort();
        assert_eq!(b, [13]);
        assert!(tree_of(&procs, &children, &[99], "c").is_empty());
    }

    #[test]
    fn quantities_read_as_metrics_server_writes_them() {
        assert_eq!(cpu_quantity(1.5), "1500m");
        assert_eq!(cpu_quantity(0.0), "0m");
        assert_eq!(cpu_quantity(0.00025), "250000n");
        assert_eq!(cpu_quantity(-1.0), "0m");
        assert_eq!(memory_quantity(2048), "2Ki");
        assert_eq!(memory_quantity(1000), "1000");
        assert!((cores(500, Duration::from_millis(250)) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn a_process_that_spins_shows_in_the_tree_of_its_container() {
        // A real child that burns CPU, marked as the container's: the second reading shows it.
        let id = "usage-test-container";
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "container::usage::tests::spin_forever",
                "--ignored",
                "--nocapture",
            ])
            .env(CONTAINER_ID_VAR, id)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut state: State = serde_json::from_value(serde_json::json!({
            "version": crate::layout::FORMAT_VERSION, "id": id, "name": "spin", "image": "spin",
            "coordinates": {"group_id": "g", "artifact_id": "a", "version": "1", "extension": "zip", "classifier": "image"},
            "image_path": "/x.zip", "app_base": "root", "launch": "run_script",
            "created": "2026-01-01T00:00:00Z", "status": "running"
        }))
        .unwrap();
        state.process = crate::container::process::ProcessId::capture(child.id());
        let mut meter = Meter::new();
        let reading = meter.read_over(
            std::slice::from_ref(&state),
            Duration::from_millis(500),
            Duration::from_secs(5),
        );
        let _ = child.kill();
        let _ = child.wait();
        let usage = reading.containers[id];
        assert!(usage.processes >= 1, "{usage:?}");
        assert!(usage.memory_bytes > 0, "{usage:?}");
        // Even on a loaded machine a spinning process gets far more than this; an idle one none.
        assert!(usage.cpu_cores.unwrap() > 0.05, "{usage:?}");
        assert!(reading.window.unwrap() >= Duration::from_millis(500));
    }

    #[test]
    #[ignore = "run by a_process_that_spins_shows_in_the_tree_of_its_container as its child"]
    fn spin_forever() {
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_secs(30) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
}
