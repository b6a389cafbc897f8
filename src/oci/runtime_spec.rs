//! The runtime-spec configuration shared by exported bundles and isolated runs: the process in
//! its own mount, pid, ipc and uts namespaces on the host's network, a read-only `rootfs`, and no
//! `linux.resources` and no user namespace, so that runc runs it as root also where cgroups are
//! in hybrid mode.

use std::path::Path;

use oci_spec::OciSpecError;
use oci_spec::runtime::{
    Linux, LinuxNamespaceBuilder, LinuxNamespaceType, Mount, MountBuilder, Process, RootBuilder, Spec,
};

const VERSION: &str = "1.0.2";

/// A bind mount of `source` at `destination`.
pub fn bind(source: &Path, destination: &Path, options: &[&str]) -> Result<Mount, OciSpecError> {
    MountBuilder::default()
        .destination(destination)
        .typ("bind")
        .source(source)
        .options(options.iter().map(|o| (*o).to_owned()).collect::<Vec<_>>())
        .build()
}

/// A private, world-writable tmpfs at `destination`.
pub fn tmpfs(destination: &str) -> Result<Mount, OciSpecError> {
    MountBuilder::default()
        .destination(destination)
        .typ("tmpfs")
        .source("tmpfs")
        .options(vec![
            "nosuid".to_owned(),
            "nodev".to_owned(),
            "mode=1777".to_owned(),
        ])
        .build()
}

/// The whole configuration around `process`, with `mounts` on a read-only `rootfs`.
pub fn config(process: Process, mounts: Vec<Mount>, hostname: String) -> Result<Spec, OciSpecError> {
    let namespaces = [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
    ]
    .into_iter()
    .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build())
    .collect::<Result<Vec<_>, _>>()?;
    // The defaults' masked and read-only paths stay; their (empty) resources would make runc
    // touch cgroup controllers, which fails in hybrid mode.
    let mut linux = Linux::default();
    linux.set_namespaces(Some(namespaces));
    linux.set_resources(None);
    linux.set_uid_mappings(None);
    linux.set_gid_mappings(None);

    let mut spec = Spec::default();
    spec.set_version(VERSION.to_owned());
    spec.set_process(Some(process));
    spec.set_root(Some(
        RootBuilder::default().path("rootfs").readonly(true).build()?,
    ));
    spec.set_hostname(Some(hostname));
    spec.set_mounts(Some(mounts));
    spec.set_annotations(None);
    spec.set_linux(Some(linux));
    Ok(spec)
}
