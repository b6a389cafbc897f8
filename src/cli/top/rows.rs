//! What `jube top` lists: every container, and every pod when a daemon runs, each with its status,
//! restarts, CPU, memory, ports, uptime and image, from one reading of the process trees.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::container::lifecycle::Containers;
use crate::container::state::{State, Status};
use crate::container::usage::{Meter, Reading};
use crate::kube::client::Client;
use crate::kube::kinds::Kind;
use crate::kube::table::{Table, pod_status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Container,
    Pod,
}

/// One line of the view.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub kind: RowKind,
    /// A container's name, or a pod's `namespace/name`.
    pub name: String,
    pub status: String,
    pub running: bool,
    pub restarts: u32,
    /// Cores in use (1.0: one core busy); `None` before there are two readings to compare.
    pub cpu: Option<f64>,
    pub memory: Option<u64>,
    pub ports: String,
    pub uptime: Option<Duration>,
    pub image: String,
    /// The jube containers the row acts on: the container itself, or the pod's.
    pub containers: Vec<String>,
    /// The log its pane tails: the container's console, or the pod's first container's.
    pub log: Option<PathBuf>,
}

/// Gathers rows: containers always, pods while a daemon answers.
pub struct Collector {
    containers: Containers,
    meter: Meter,
}

impl Collector {
    pub fn new(containers: Containers) -> Self {
        Self {
            containers,
            meter: Meter::new(),
        }
    }

    /// The rows now; CPU covers the time since the previous call (or, with `window`, a fresh
    /// reading at least that long).
    pub fn collect(&mut self, daemon: Option<&Client>, window: Option<Duration>) -> Vec<Row> {
        let states: Vec<State> = self
            .containers
            .list()
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        let reading = match window {
            Some(w) => self.meter.read_over(&states, w, w * 4),
            None => self.meter.read(&states),
        };
        let now = jiff::Timestamp::now();
        let mut rows: Vec<Row> = states
            .iter()
            .map(|s| container_row(&self.containers, s, &reading, now))
            .collect();
        if let Some(client) = daemon
            && let Ok(list) = client.get(&Kind::Pod.collection_path(None))
        {
            let pods = list["items"].as_array().cloned().unwrap_or_default();
            rows.extend(
                pods.iter()
                    .map(|pod| pod_row(&self.containers, pod, &states, &reading, now)),
            );
        }
        rows
    }
}

fn uptime(started: Option<jiff::Timestamp>, now: jiff::Timestamp) -> Option<Duration> {
    let secs = now.duration_since(started?).as_secs();
    u64::try_from(secs).ok().map(Duration::from_secs)
}

fn container_row(containers: &Containers, s: &State, reading: &Reading, now: jiff::Timestamp) -> Row {
    let running = s.status == Status::Running;
    let usage = reading.containers.get(&s.id);
    Row {
        kind: RowKind::Container,
        name: s.name.clone(),
        status: s.status.as_str().to_owned(),
        running,
        restarts: s.restart_count,
        cpu: usage.and_then(|u| u.cpu_cores),
        memory: usage.map(|u| u.memory_bytes),
        ports: s.ports_summary(),
        uptime: if running { uptime(s.started_at, now) } else { None },
        image: s.image.clone(),
        containers: vec![s.id.clone()],
        log: Some(containers.console_log(s)),
    }
}

fn pod_row(
    containers: &Containers,
    pod: &Value,
    states: &[State],
    reading: &Reading,
    now: jiff::Timestamp,
) -> Row {
    let text = |p: &str| pod.pointer(p).and_then(Value::as_str).unwrap_or_default();
    let mine = crate::kube::metrics::containers_of(pod, states);
    let usages: Vec<_> = mine
        .iter()
        .filter_map(|(_, s)| reading.containers.get(&s.id))
        .collect();
    let cpu = (!usages.is_empty())
        .then(|| usages.iter().map(|u| u.cpu_cores).sum::<Option<f64>>())
        .flatten();
    let memory = (!usages.is_empty()).then(|| usages.iter().map(|u| u.memory_bytes).sum());
    let restarts = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c["restartCount"].as_u64())
        .sum::<u64>();
    let images: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c["image"].as_str())
        .collect();
    let ports: Vec<String> = mine
        .iter()
        .map(|(_, s)| s.ports_summary())
        .filter(|p| !p.is_empty())
        .collect();
    let started = text("/status/startTime").parse().ok();
    let status = pod_status(pod);
    let running = status == "Running";
    Row {
        kind: RowKind::Pod,
        name: format!("{}/{}", text("/metadata/namespace"), text("/metadata/name")),
        running,
        status,
        restarts: u32::try_from(restarts).unwrap_or(u32::MAX),
        cpu,
        memory,
        ports: ports.join(", "),
        uptime: if running { uptime(started, now) } else { None },
        image: images.join(","),
        containers: mine.iter().map(|(_, s)| s.id.clone()).collect(),
        log: mine.first().map(|(_, s)| containers.console_log(s)),
    }
}

/// `12.5%` of one core, as top shows it; `-` while unknown.
pub fn cpu_text(cpu: Option<f64>) -> String {
    cpu.map_or_else(|| "-".into(), |c| format!("{:.1}%", c * 100.0))
}

/// `12.3Mi`, `1.2Gi`, `640Ki`; `-` while unknown.
pub fn memory_text(bytes: Option<u64>) -> String {
    let Some(b) = bytes else {
        return "-".into();
    };
    let b = b as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1}Gi", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1}Mi", b / (1024.0 * 1024.0))
    } else {
        format!("{:.0}Ki", b / 1024.0)
    }
}

/// `3d4h`, `2h5m`, `4m10s`, `12s`: compact, as a column needs; `-` when not running.
pub fn uptime_text(d: Option<Duration>) -> String {
    let Some(d) = d else {
        return "-".into();
    };
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
    }
}

pub const HEADERS: [&str; 9] = [
    "KIND", "NAME", "STATUS", "RESTARTS", "CPU%", "MEMORY", "PORTS", "UPTIME", "IMAGE",
];

pub fn cells(row: &Row) -> [String; 9] {
    [
        match row.kind {
            RowKind::Container => "container".into(),
            RowKind::Pod => "pod".into(),
        },
        row.name.clone(),
        row.status.clone(),
        row.restarts.to_string(),
        cpu_text(row.cpu),
        memory_text(row.memory),
        if row.ports.is_empty() {
            "-".into()
        } else {
            row.ports.clone()
        },
        uptime_text(row.uptime),
        row.image.clone(),
    ]
}

/// The rows as one plain table (what `--once` and a pipe get).
pub fn plain(rows: &[Row]) -> String {
    let table = Table {
        headers: HEADERS.iter().map(|h| (*h).to_owned()).collect(),
        rows: rows.iter().map(|r| cells(r).to_vec()).collect(),
    };
    crate::kube::table::render(&table, true)
}

/// How rows are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Cpu,
    Memory,
    Uptime,
    Status,
}

impl SortKey {
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Cpu => "CPU",
            SortKey::Memory => "memory",
            SortKey::Uptime => "uptime",
            SortKey::Status => "status",
        }
    }
}

/// Sorts: names ascending; CPU, memory and uptime largest first; ties by kind and name.
pub fn sort(rows: &mut [Row], key: SortKey) {
    let by_name = |a: &Row, b: &Row| {
        (a.kind == RowKind::Container)
            .cmp(&(b.kind == RowKind::Container))
            .then_with(|| a.name.cmp(&b.name))
    };
    rows.sort_by(|a, b| {
        let order = match key {
            SortKey::Name => std::cmp::Ordering::Equal,
            SortKey::Cpu => b.cpu.unwrap_or(-1.0).total_cmp(&a.cpu.unwrap_or(-1.0)),
            SortKey::Memory => b.memory.cmp(&a.memory),
            SortKey::Uptime => b.uptime.cmp(&a.uptime),
            SortKey::Status => a.status.cmp(&b.status),
        };
        order.then_with(|| by_name(a, b))
    });
}

/// Whether a row matches a filter: the text appears in its kind, name, status, ports or image
/// (any case).
pub fn matches(row: &Row, filter: &str) -> bool {
    if filter.is_empty() {
        return true;
    }
    let filter = filter.to_lowercase();
    cells(row)
        .iter()
        .any(|cell| cell.to_lowercase().contains(&filter))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, cpu: Option<f64>, memory: Option<u64>) -> Row {
        Row {
            kind: RowKind::Container,
            name: name.into(),
            status: "running".into(),
            running: true,
            restarts: 0,
            cpu,
            memory,
            ports: "HTTP:48000".into(),
            uptime: Some(Duration::from_secs(61)),
            image: "fabric8/ticker".into(),
            containers: vec![],
            log: None,
        }
    }

    #[test]
    fn rows_sort_filter_and_print() {
        let mut rows = vec![
            row("b", Some(0.5), Some(10)),
            row("a", Some(1.5), Some(5)),
            row("c", None, None),
        ];
        sort(&mut rows, SortKey::Cpu);
        assert_eq!(
            rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        sort(&mut rows, SortKey::Memory);
        assert_eq!(
            rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["b", "a", "c"]
        );
        sort(&mut rows, SortKey::Name);
        assert_eq!(
            rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert!(matches(&rows[0], "TICKER"));
        assert!(matches(&rows[0], "48000"));
        assert!(!matches(&rows[0], "java"));
        let text = plain(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("KIND"), "{text}");
        assert!(
            lines[1].contains("150.0%") && lines[1].contains("HTTP:48000"),
            "{text}"
        );
        assert!(lines[3].contains(" - "), "{text}");
        assert_eq!(uptime_text(Some(Duration::from_secs(61))), "1m1s");
        assert_eq!(memory_text(Some(3 * 1024 * 1024 / 2)), "1.5Mi");
    }
}
