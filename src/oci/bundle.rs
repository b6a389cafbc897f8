//! `jube export IMAGE --bundle DIR`: an OCI runtime bundle (runtime-spec 1.x `config.json` and
//! `rootfs/`) whose process runs the image's `run.sh` in the foreground, with the app at `/app`.
//!
//! The bundle shares the host's network, so the app answers on the host ports written into its
//! environment, and it has no `linux.resources` and no user namespace, so that runc runs it as
//! root also where cgroups are in hybrid mode.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, Process, Spec, get_default_mounts};

use super::{APP_DIR, OciError, Staged, io_err, runtime_spec, unpack_app};
use crate::container::envfile;
use crate::container::install::UnpackLimits;
use crate::container::ports::{self, Lease, PortRange};
use crate::layout::Layout;
use crate::reporter::Reporter;

/// The search path inside the bundle: where a base image or a bound host `/usr` keeps programs.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to export and how.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    /// Host paths mounted read-only at the same path inside.
    pub bind_host: Vec<PathBuf>,
    /// Fixed host ports: `HTTP=8080`.
    pub ports: Vec<(String, u16)>,
    /// The container's host name.
    pub hostname: String,
    pub range: PortRange,
    pub limits: UnpackLimits,
}

/// A written bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub dir: PathBuf,
    pub ports: Vec<Lease>,
}

/// Writes the bundle for image zip `zip` at `dir`, which must be new or empty.
pub fn export(
    zip: &Path,
    dir: &Path,
    options: &BundleOptions,
    layout: &Layout,
    reporter: &dyn Reporter,
) -> Result<Bundle, OciError> {
    let binds = options
        .bind_host
        .iter()
        .map(|p| HostBind::new(p))
        .collect::<Result<Vec<_>, _>>()?;
    let stage = Staged::new(dir)?;
    let rootfs = stage.path().join("rootfs");
    std::fs::create_dir(&rootfs).map_err(io_err(&rootfs))?;
    let app = rootfs.join(APP_DIR.trim_start_matches('/'));
    unpack_app(zip, &app, &options.limits, reporter)?;

    let declared = ports::read_ports(&app.join("ports.properties"))?;
    let leases = choose_ports(&declared, &options.ports, options.range, layout)?;
    let mut env = vec![("APP_BASE".to_owned(), APP_DIR.to_owned())];
    env.extend(
        leases
            .iter()
            .map(|l| (envfile::port_variable(&l.name), l.host_port.to_string())),
    );
    write_env_sh(&app, &env)?;

    for bind in &binds {
        bind.make_mount_point(&rootfs)?;
    }
    for folder in ["proc", "sys", "dev", "tmp"] {
        let path = rootfs.join(folder);
        std::fs::create_dir_all(&path).map_err(io_err(&path))?;
    }
    let spec = spec(&env, &binds, &options.hostname)?;
    let config = stage.path().join("config.json");
    let json = serde_json::to_vec_pretty(&spec).map_err(|e| OciError::Runtime(e.to_string()))?;
    std::fs::write(&config, json).map_err(io_err(&config))?;
    let dir = stage.finish()?;
    Ok(Bundle { dir, ports: leases })
}

/// A host path bound read-only into the bundle. A path that is a symlink (`/bin` on merged-/usr
/// systems) is bound at the link's own path, from the folder it points to.
#[derive(Debug, Clone)]
struct HostBind {
    source: PathBuf,
    destination: PathBuf,
    is_dir: bool,
}

impl HostBind {
    fn new(path: &Path) -> Result<Self, OciError> {
        if !path.is_absolute() {
            return Err(OciError::Usage(format!(
                "--bind-host {}: give an absolute host path, such as /usr",
                path.display()
            )));
        }
        let source = std::fs::canonicalize(path).map_err(|e| {
            OciError::Usage(format!(
                "--bind-host {}: {e}; give a path that exists",
                path.display()
            ))
        })?;
        if source == Path::new("/") || path == Path::new(APP_DIR) || Path::new(APP_DIR).starts_with(path) {
            return Err(OciError::Usage(format!(
                "--bind-host {}: it would cover the bundle's root or its app folder {APP_DIR}; bind \
                 the folders the app needs, such as /usr and /bin",
                path.display()
            )));
        }
        let is_dir = source.is_dir();
        Ok(Self {
            destination: path.to_owned(),
            source,
            is_dir,
        })
    }

    fn make_mount_point(&self, rootfs: &Path) -> Result<(), OciError> {
        let inside = rootfs.join(self.destination.strip_prefix("/").unwrap_or(&self.destination));
        if self.is_dir {
            std::fs::create_dir_all(&inside).map_err(io_err(&inside))?;
        } else {
            if let Some(parent) = inside.parent() {
                std::fs::create_dir_all(parent).map_err(io_err(parent))?;
            }
            std::fs::write(&inside, b"").map_err(io_err(&inside))?;
        }
        Ok(())
    }
}

/// One host port per declared port: the fixed one when given, else a free one from `range` that
/// no container has leased and nothing listens on. Nothing is leased: the bundle is no container.
fn choose_ports(
    declared: &[(String, u16)],
    fixed: &[(String, u16)],
    range: PortRange,
    layout: &Layout,
) -> Result<Vec<Lease>, OciError> {
    for (name, _) in fixed {
        if !declared.iter().any(|(d, _)| d.eq_ignore_ascii_case(name)) {
            let known: Vec<&str> = declared.iter().map(|(d, _)| d.as_str()).collect();
            return Err(OciError::Usage(format!(
                "--port {name}: the image declares no such port in ports.properties (it declares: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        }
    }
    let leased: Vec<u16> = ports::all_leases(layout)?
        .into_values()
        .flatten()
        .map(|l| l.host_port)
        .collect();
    let mut taken: Vec<u16> = fixed.iter().map(|(_, p)| *p).collect();
    let mut chosen = Vec::with_capacity(declared.len());
    for (name, container_port) in declared {
        let host_port = match fixed.iter().rev().find(|(f, _)| f.eq_ignore_ascii_case(name)) {
            Some((_, port)) => *port,
            None => {
                let port = (range.start..=range.end)
                    .find(|p| !taken.contains(p) && !leased.contains(p) && is_free(*p))
                    .ok_or_else(|| {
                        OciError::Usage(format!(
                            "no free host port is left for {name} in {}..={}; free one, or fix it with --port {name}=N",
                            range.start, range.end
                        ))
                    })?;
                taken.push(port);
                port
            }
        };
        chosen.push(Lease {
            name: name.clone(),
            container_port: *container_port,
            host_port,
        });
    }
    Ok(chosen)
}

fn is_free(port: u16) -> bool {
    TcpListener::bind(("0.0.0.0", port)).is_ok()
}

/// jube's lines in the app's env.sh, as `jube create` writes them, so scripts that source it see
/// the same variables as the process environment.
fn write_env_sh(app: &Path, env: &[(String, String)]) -> Result<(), OciError> {
    let sh = app.join("env.sh");
    let original = match std::fs::read_to_string(&sh) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "#!/bin/sh\n".to_owned(),
        Err(e) => return Err(io_err(&sh)(e)),
    };
    let text = envfile::insert_sh(&original, env).map_err(|e| OciError::Usage(e.to_string()))?;
    std::fs::write(&sh, text).map_err(io_err(&sh))?;
    crate::fsutil::set_mode(&sh, 0o755).map_err(io_err(&sh))
}

/// The runtime configuration: run.sh in the foreground at `/app`, the root read-only but `/app`
/// and `/tmp`, own mount, pid, ipc and uts namespaces, the host's network.
fn spec(env: &[(String, String)], binds: &[HostBind], hostname: &str) -> Result<Spec, OciError> {
    let mut process = Process::default();
    process.set_terminal(Some(false));
    process.set_args(Some(vec![format!("{APP_DIR}/run.sh")]));
    process.set_cwd(PathBuf::from(APP_DIR));
    let mut vars = vec![format!("PATH={PATH}"), format!("HOME={APP_DIR}")];
    vars.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
    process.set_env(Some(vars));

    let mut mounts: Vec<Mount> = get_default_mounts();
    mounts.push(runtime_spec::bind(
        Path::new(&format!("rootfs{APP_DIR}")),
        Path::new(APP_DIR),
        &["rbind", "rw"],
    )?);
    mounts.push(runtime_spec::tmpfs("/tmp")?);
    for bind in binds {
        mounts.push(runtime_spec::bind(
            &bind.source,
            &bind.destination,
            &["rbind", "ro", "nosuid"],
        )?);
    }
    Ok(runtime_spec::config(process, mounts, hostname.to_owned())?)
}
