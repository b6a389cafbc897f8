//! The one Node: the machine jube runs every pod on. Not stored: each read describes the machine
//! as it is now (its CPUs, memory, disk, OS and addresses), so `kubectl describe node` shows real
//! figures, and every pod names it as its `spec.nodeName`.

use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::kube::table::{Table, age};

/// How many pods the node takes: jube sets no limit of its own, so it says what a kubelet says
/// by default.
const MAX_PODS: u32 = 110;

/// The node's name: the machine's host name, lowercased as Kubernetes names nodes.
pub fn name() -> String {
    crate::kube::podenv::node_name()
}

/// Binds a pod to this machine, as a scheduler binds it to a node: `spec.nodeName` says where it
/// runs (whatever it asked for, since there is no other node).
pub fn bind(pod: &mut Value) {
    if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("nodeName".into(), json!(name()));
    }
}

/// The version the node reports, the API server's own (see `/version`).
pub fn version() -> String {
    concat!("v1.33.0-jube.", env!("CARGO_PKG_VERSION")).to_owned()
}

/// Go's names for the OS and architecture, as `kubernetes.io/os` and `kubernetes.io/arch` use them.
pub fn go_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// What the machine has.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub cpus: usize,
    pub memory_bytes: u64,
    /// Size of the file system holding jube's data, when it can be read.
    pub storage_bytes: Option<u64>,
    pub kernel: String,
    pub os_image: String,
    pub boot_time: Option<jiff::Timestamp>,
}

impl Machine {
    /// The machine now; `data_dir` is where pods' files go (its file system is the ephemeral storage).
    pub fn read(data_dir: &std::path::Path) -> Self {
        let mut system = sysinfo::System::new().ok();
        let (cpus, memory_bytes) = match system.as_mut() {
            Some(s) => {
                s.refresh_memory();
                s.refresh_cpu_list(sysinfo::CpuRefreshKind::nothing());
                (s.cpus().len().max(1), s.total_memory())
            }
            None => (std::thread::available_parallelism().map_or(1, |n| n.get()), 0),
        };
        let os = || sysinfo::System::long_os_version().ok();
        Self {
            cpus,
            memory_bytes,
            storage_bytes: storage_bytes(data_dir),
            kernel: sysinfo::System::kernel_version().unwrap_or_default(),
            os_image: os().unwrap_or_else(|| std::env::consts::OS.to_owned()),
            boot_time: sysinfo::System::boot_time()
                .ok()
                .and_then(|secs| jiff::Timestamp::from_second(i64::try_from(secs).ok()?).ok()),
        }
    }
}

#[cfg(unix)]
fn storage_bytes(dir: &std::path::Path) -> Option<u64> {
    let dir = dir.ancestors().find(|d| d.exists())?;
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    #[allow(clippy::useless_conversion)] // the field types differ between platforms
    let bytes = u64::from(st.blocks()).checked_mul(u64::from(st.fragment_size()))?;
    Some(bytes)
}

#[cfg(not(unix))]
fn storage_bytes(_dir: &std::path::Path) -> Option<u64> {
    None
}

/// The Node object for `machine`, named `name`, ready as of `now`.
pub fn object(name: &str, machine: &Machine, now: jiff::Timestamp) -> Value {
    let mut capacity = json!({
        "cpu": machine.cpus.to_string(),
        "memory": format!("{}Ki", machine.memory_bytes / 1024),
        "pods": MAX_PODS.to_string(),
    });
    if let Some(bytes) = machine.storage_bytes {
        capacity["ephemeral-storage"] = json!(format!("{}Ki", bytes / 1024));
    }
    let created = machine.boot_time.unwrap_or(now).to_string();
    let uid = {
        let digest = hex::encode(Sha1::digest(format!("jube-node/{name}").as_bytes()));
        format!(
            "{}-{}-{}-{}-{}",
            &digest[0..8],
            &digest[8..12],
            &digest[12..16],
            &digest[16..20],
            &digest[20..32]
        )
    };
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": uid,
            "resourceVersion": "1",
            "creationTimestamp": created,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": go_os(),
                "kubernetes.io/arch": go_arch(),
                "beta.kubernetes.io/os": go_os(),
                "beta.kubernetes.io/arch": go_arch(),
                "node-role.kubernetes.io/control-plane": "",
            },
        },
        "spec": {},
        "status": {
            "capacity": capacity.clone(),
            // Nothing is set aside for a system: jube's pods may use the whole machine.
            "allocatable": capacity,
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady",
                 "message": "jube is running pods on this machine",
                 "lastHeartbeatTime": now.to_string(), "lastTransitionTime": created},
            ],
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
            "nodeInfo": {
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
                "kernelVersion": machine.kernel,
                "osImage": machine.os_image,
                "containerRuntimeVersion": format!("jube://{}", env!("CARGO_PKG_VERSION")),
                "kubeletVersion": version(),
                "kubeProxyVersion": "",
                "operatingSystem": go_os(),
                "architecture": go_arch(),
            },
        },
    })
}

/// kubectl's columns for nodes: NAME STATUS ROLES AGE VERSION, and with `-o wide` the addresses,
/// OS image, kernel and container runtime.
pub fn table(nodes: &[Value], now: jiff::Timestamp) -> Table {
    let text = |o: &Value, p: &str| {
        o.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let address = |o: &Value, kind: &str| {
        o.pointer("/status/addresses")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|a| a["type"] == kind))
            .and_then(|a| a["address"].as_str())
            .unwrap_or("<none>")
            .to_owned()
    };
    let rows = nodes
        .iter()
        .map(|o| {
            let ready = o
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
                .is_some_and(|c| c["status"] == "True");
            let roles: Vec<&str> = o
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
                .collect();
            vec![
                text(o, "/metadata/name"),
                if ready { "Ready" } else { "NotReady" }.to_owned(),
                if roles.is_empty() {
                    "<none>".to_owned()
                } else {
                    roles.join(",")
                },
                age(o.pointer("/metadata/creationTimestamp"), now),
                text(o, "/status/nodeInfo/kubeletVersion"),
                address(o, "InternalIP"),
                address(o, "ExternalIP"),
                text(o, "/status/nodeInfo/osImage"),
                text(o, "/status/nodeInfo/kernelVersion"),
                text(o, "/status/nodeInfo/containerRuntimeVersion"),
            ]
        })
        .collect();
    Table {
        headers: TABLE_HEADERS.iter().map(|h| (*h).to_owned()).collect(),
        rows,
    }
}

/// Node columns; the first [`NARROW_COLUMNS`] are what `kubectl get nodes` shows without `-o wide`.
pub const TABLE_HEADERS: [&str; 10] = [
    "NAME",
    "STATUS",
    "ROLES",
    "AGE",
    "VERSION",
    "INTERNAL-IP",
    "EXTERNAL-IP",
    "OS-IMAGE",
    "KERNEL-VERSION",
    "CONTAINER-RUNTIME",
];
pub const NARROW_COLUMNS: usize = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_reports_the_machine_and_reads_as_kubectl_lists_it() {
        let machine = Machine {
            cpus: 4,
            memory_bytes: 8 * 1024 * 1024 * 1024,
            storage_bytes: Some(100 * 1024 * 1024 * 1024),
            kernel: "6.1.0".into(),
            os_image: "Debian GNU/Linux 12".into(),
            boot_time: Some("2026-01-01T00:00:00Z".parse().unwrap()),
        };
        let now: jiff::Timestamp = "2026-01-03T00:00:00Z".parse().unwrap();
        let node = object("box", &machine, now);
        assert_eq!(node["status"]["capacity"]["cpu"], "4");
        assert_eq!(node["status"]["capacity"]["memory"], "8388608Ki");
        assert_eq!(node["status"]["allocatable"]["ephemeral-storage"], "104857600Ki");
        assert_eq!(node["metadata"]["uid"].as_str().unwrap().len(), 36);
        let t = table(&[node], now);
        assert_eq!(
            t.rows[0][..NARROW_COLUMNS],
            ["box", "Ready", "control-plane", "2d", version().as_str()]
        );
        assert_eq!(t.rows[0][5], "127.0.0.1");
        assert_eq!(t.rows[0][6], "<none>");
        assert_eq!(t.rows[0][7], "Debian GNU/Linux 12");
    }

    #[test]
    fn the_real_machine_has_cpus_and_memory() {
        let machine = Machine::read(&std::env::temp_dir());
        assert!(machine.cpus >= 1);
        assert!(machine.memory_bytes > 0);
        #[cfg(unix)]
        assert!(machine.storage_bytes.unwrap_or(0) > 0);
    }
}
