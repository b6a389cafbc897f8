//! `create`: an image zip becomes a container folder with its ports leased and its env file
//! written. It is built in a staging folder and renamed into place, so a failure (or a kill)
//! leaves no container behind, and its leases go with it.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use super::{ContainerError, Containers, CreateOptions, ImageSource, io_err};
use crate::container::envfile;
use crate::container::install;
use crate::container::names;
use crate::container::platform;
use crate::container::ports::{self, Lease, PortRange, PortRequest};
use crate::container::scripts;
use crate::container::state::{Launch, State, Status};
use crate::fsutil::{self, LockedFile};
use crate::layout::{FORMAT_VERSION, Layout};
use crate::reporter::Reporter;

impl Containers {
    /// Installs an image as a new container: unpack, lease ports, write env files and state.
    pub fn create(
        &self,
        image: &ImageSource,
        options: &CreateOptions,
        reporter: &dyn Reporter,
    ) -> Result<State, ContainerError> {
        if let Some(name) = &options.name {
            names::check_name(name).map_err(ContainerError::BadName)?;
        }
        for (key, _) in &options.env {
            envfile::check_name(key)?;
        }
        if options.isolated {
            crate::oci::isolate::check()?;
        }
        for dir in [self.layout.staging_dir(), self.layout.containers_dir()] {
            fs_err::create_dir_all(&dir).map_err(io_err(&dir))?;
        }
        self.remove_abandoned_stages();

        let id = names::new_id();
        let stage = Stage::begin(&self.layout, &id)?;
        let name = self.reserve_name(&stage, options.name.as_deref())?;

        let folder = crate::layout::app_folder_name(&name, &id);
        let dest = stage.dir.join(&folder);
        let mut unpacked = install::unpack(&image.zip, &dest, &options.limits, reporter)?;
        install::check_unpacked(&image.zip, &unpacked.app_base)?;
        if unpacked.app_base != dest {
            hoist(&unpacked.app_base, &dest)?;
            unpacked.app_base = dest.clone();
        }
        let rel_app_base = PathBuf::from(&folder);
        let final_app_base = self.layout.container_dir(&id).join(&rel_app_base);

        let declared = ports::read_ports(&unpacked.app_base.join("ports.properties"))?;
        let mut requests = port_requests(&declared, &options.ports)?;
        add_pod_ports(&mut requests, &options.pod_ports);
        let layout = self.layout.clone();
        let is_live = move |owner: &str| {
            // Service proxies' ports: the daemon gives them back when their service goes.
            owner.starts_with(crate::kube::proxy::LEASE_OWNER_PREFIX) || is_live(&layout, owner)
        };
        let leases = ports::lease(&self.layout, &id, &requests, PortRange::from_env()?, &is_live)?;

        let mut given = options.env.clone();
        for (var, rel) in &options.mounts {
            given.push((
                var.clone(),
                final_app_base.join(rel).to_string_lossy().into_owned(),
            ));
        }
        let env = container_env(&final_app_base, &leases, &given);
        write_env_files(&unpacked.app_base, &env, reporter)?;
        let (launch, argv) = match (&options.command, &options.args) {
            (Some(command), args) if !command.is_empty() => (
                Launch::Command,
                command.iter().chain(args.iter().flatten()).cloned().collect(),
            ),
            // Arguments alone go to the image's entry point, which is run.sh.
            (_, Some(args)) => (Launch::RunScript, args.clone()),
            _ if platform::PREFER_RUN_SCRIPT && scripts::script_path(&unpacked.app_base, "run").is_file() => {
                (Launch::RunScript, Vec::new())
            }
            // The runtime keeps the app in the foreground: start.sh would end, and the app with it.
            _ if options.isolated && scripts::script_path(&unpacked.app_base, "run").is_file() => {
                (Launch::RunScript, Vec::new())
            }
            _ if options.isolated => return Err(ContainerError::IsolatedNeedsRunScript),
            _ if scripts::script_path(&unpacked.app_base, "start").is_file() => {
                (Launch::StartScript, Vec::new())
            }
            _ => (Launch::RunScript, Vec::new()),
        };
        let logs = stage.dir.join("logs");
        fs_err::create_dir_all(&logs).map_err(io_err(&logs))?;
        let state = State {
            version: FORMAT_VERSION,
            id: id.clone(),
            name,
            image: image.name.clone(),
            coordinates: image.coordinates.clone(),
            image_path: image.zip.clone(),
            app_base: rel_app_base,
            launch,
            argv,
            created: jiff::Timestamp::now(),
            status: Status::Created,
            process: None,
            session: None,
            attached: false,
            launched_ticks: None,
            started_at: None,
            finished_at: None,
            exit_code: None,
            error: None,
            ports: leases,
            env,
            secret_env: options.secret_env.clone(),
            labels: options.labels.clone(),
            restart_count: 0,
            last_run: None,
            isolated: options.isolated,
        };
        state.save(&stage.dir.join("state.json"))?;
        stage.commit(&self.layout.container_dir(&id))?;
        Ok(state)
    }

    /// Picks the container's name under the names lock and records it in the stage, so two
    /// concurrent creates never take the same one.
    fn reserve_name(&self, stage: &Stage, wanted: Option<&str>) -> Result<String, ContainerError> {
        let _lock = LockedFile::acquire(&self.layout.names_lock(), "container names")?;
        // Stages first: one renamed into `containers/` after this look is seen there next.
        let mut taken: BTreeMap<String, String> = self
            .staged_names()
            .into_iter()
            .map(|(id, name)| (name, id))
            .collect();
        for state in self.ids().into_iter().filter_map(|id| self.load(&id).ok()) {
            taken.insert(state.name, state.id);
        }
        let name = match wanted {
            Some(n) => {
                if let Some(id) = taken.get(n) {
                    return Err(ContainerError::NameTaken {
                        name: n.to_owned(),
                        id: id.chars().take(12).collect(),
                    });
                }
                n.to_owned()
            }
            None => names::generate(&|n| taken.contains_key(n)),
        };
        // Read only under the names lock and only while the stage lives, so neither a partial
        // write nor a crash can be seen: no temp file and no sync, which every create would
        // otherwise wait for behind this lock.
        let path = stage.dir.join(NAME_FILE);
        fs_err::write(&path, name.as_bytes()).map_err(io_err(&path))?;
        Ok(name)
    }

    fn staged_names(&self) -> Vec<(String, String)> {
        let Ok(entries) = std::fs::read_dir(self.layout.staging_dir()) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = std::fs::read_to_string(e.path().join(NAME_FILE)).ok()?;
                Some((e.file_name().to_string_lossy().into_owned(), name))
            })
            .collect()
    }

    /// Removes stages whose creator is gone (killed mid-create): their lock is free.
    fn remove_abandoned_stages(&self) {
        let Ok(entries) = std::fs::read_dir(self.layout.staging_dir()) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            // Only containers' stages and locks (`<id>`, `<id>.lock`, `<id>.removing`): other
            // commands keep work folders here too (an import's), guarded by their own lives.
            let name = entry.file_name();
            let stem = name
                .to_str()
                .and_then(|n| n.split('.').next())
                .unwrap_or_default();
            if !names::is_id(stem) {
                continue;
            }
            let path = entry.path();
            if !path.is_dir() {
                remove_orphan_lock(&path);
                continue;
            }
            let lock_path = path.with_extension("lock");
            // A lock on a file no longer at its path (unlinked by another cleaner after we opened
            // it) says nothing about the stage's creator, who holds the file that is there now.
            let Ok(Some(lock)) = LockedFile::try_acquire_in_place(&lock_path) else {
                continue;
            };
            if !lock.is_at_its_path() {
                continue;
            }
            // Its creator may have finished between the listing and the lock: then the folder is
            // gone (renamed into `containers/`) and its leases are a live container's.
            if path.is_dir() {
                let id = entry.file_name().to_string_lossy().into_owned();
                let _ = std::fs::remove_dir_all(&path);
                let _ = ports::release(&self.layout, &id);
            }
            drop(lock);
            let _ = std::fs::remove_file(&lock_path);
        }
    }
}

/// A creator killed before its stage folder existed, or after it was renamed into `containers/`,
/// leaves only its lock file. Ids are never reused, so once the lock is free it is no one's.
fn remove_orphan_lock(path: &Path) {
    if path.extension().is_none_or(|e| e != "lock") {
        return;
    }
    let stage = path.with_extension("");
    if stage.exists() {
        return;
    }
    if let Ok(Some(lock)) = LockedFile::try_acquire_in_place(path) {
        // Only the file at the path: removing it after locking an older, unlinked one would take
        // the lock from a creator who holds the new one, and a later cleaner would then take its
        // stage for abandoned.
        if lock.is_at_its_path() && !stage.exists() {
            let _ = std::fs::remove_file(path);
        }
        drop(lock);
    }
}

/// Whether a lease owner is a container, finished or in the making. The stage is looked at first:
/// a stage renamed into `containers/` between two looks in the other order would seem gone.
fn is_live(layout: &Layout, owner: &str) -> bool {
    layout.staging_dir().join(owner).exists() || layout.container_dir(owner).exists()
}

/// The env files hold the values users and manifests give (passwords among them), so only their
/// owner may read them. Scripts source them (`. ./env.sh`), which needs no execute bit.
const ENV_FILE_MODE: u32 = fsutil::PRIVATE_FILE_MODE;

/// The file in a stage that holds the name it reserved.
const NAME_FILE: &str = "name";

/// Matches `-p NAME=HOSTPORT` to the image's declared ports (case-insensitively, as the env
/// variable names are upper case anyway).
fn port_requests(
    declared: &[(String, u16)],
    wanted: &[(String, u16)],
) -> Result<Vec<PortRequest>, ContainerError> {
    for (name, _) in wanted {
        if !declared.iter().any(|(d, _)| d.eq_ignore_ascii_case(name)) {
            let known = declared
                .iter()
                .map(|(d, _)| d.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ContainerError::UnknownPort {
                name: name.clone(),
                known: if known.is_empty() { "none".into() } else { known },
            });
        }
    }
    Ok(declared
        .iter()
        .map(|(name, container_port)| PortRequest {
            name: name.clone(),
            container_port: *container_port,
            host_port: wanted
                .iter()
                .rev()
                .find(|(w, _)| w.eq_ignore_ascii_case(name))
                .map(|(_, p)| *p),
        })
        .collect())
}

/// Merges a pod manifest's ports into the image's: a port matching a declared one by name (any
/// case) or container port gives it its host port; any other is leased too, under its own name
/// (or `PORT_<container port>`).
fn add_pod_ports(requests: &mut Vec<PortRequest>, pod_ports: &[super::PodPort]) {
    for p in pod_ports {
        let matched = requests.iter_mut().find(|r| {
            p.name.as_deref().is_some_and(|n| r.name.eq_ignore_ascii_case(n))
                || r.container_port == p.container_port
        });
        match matched {
            Some(r) => r.host_port = p.host_port.or(r.host_port),
            None => requests.push(PortRequest {
                name: p
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("PORT_{}", p.container_port)),
                container_port: p.container_port,
                host_port: p.host_port,
            }),
        }
    }
}

/// The variables jube gives a container: APP_BASE, one `<NAME>_PORT` per lease, then the user's.
fn container_env(app_base: &Path, leases: &[Lease], user: &[(String, String)]) -> Vec<(String, String)> {
    let mut env = vec![("APP_BASE".to_owned(), app_base.to_string_lossy().into_owned())];
    for lease in leases {
        env.push((envfile::port_variable(&lease.name), lease.host_port.to_string()));
    }
    let mut seen: HashSet<String> = HashSet::new();
    // A later -e wins over an earlier one and over jube's own, as in docker.
    let mut merged: Vec<(String, String)> = Vec::new();
    for (k, v) in env.into_iter().chain(user.iter().cloned()).rev() {
        if seen.insert(k.clone()) {
            merged.push((k, v));
        }
    }
    merged.reverse();
    merged
}

/// Writes jube's lines into env.sh (created when the image has none) and into env.bat when the
/// image ships one. Only this platform's file must take every value: a value env.bat cannot hold
/// (a line break) is left out of it on Unix, with a warning.
fn write_env_files(
    app_base: &Path,
    env: &[(String, String)],
    reporter: &dyn Reporter,
) -> Result<(), ContainerError> {
    let sh = app_base.join("env.sh");
    let original = match std::fs::read_to_string(&sh) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::from("#!/bin/sh\n"),
        Err(e) => return Err(io_err(&sh)(e)),
    };
    fsutil::write_atomic_mode(
        &sh,
        envfile::insert_sh(&original, env)?.as_bytes(),
        Some(ENV_FILE_MODE),
    )
    .map_err(io_err(&sh))?;
    let bat = app_base.join("env.bat");
    let Ok(original) = std::fs::read_to_string(&bat) else {
        return Ok(());
    };
    let native = platform::ENV_FILE == "env.bat";
    let mut kept = Vec::with_capacity(env.len());
    for (name, value) in env {
        match envfile::bat_line(name, value) {
            Ok(_) => kept.push((name.clone(), value.clone())),
            Err(e) if native => return Err(e.into()),
            Err(e) => reporter.warn(&format!("{} is left out of env.bat: {e}", name)),
        }
    }
    fsutil::write_atomic_mode(
        &bat,
        envfile::insert_bat(&original, &kept)?.as_bytes(),
        Some(ENV_FILE_MODE),
    )
    .map_err(io_err(&bat))?;
    Ok(())
}

/// Makes the zip's single top-level folder (`dest/app-1.0`) the app folder itself, so that
/// `basename $APP_BASE` is the container's folder name, never the image's.
fn hoist(app_base: &Path, dest: &Path) -> Result<(), ContainerError> {
    let Some(stage) = dest.parent() else {
        return Ok(());
    };
    let moving = stage.join(".hoisting");
    fs_err::rename(app_base, &moving).map_err(io_err(app_base))?;
    // The top-level folder was all the zip held, so `dest` is empty now.
    fs_err::remove_dir(dest).map_err(io_err(dest))?;
    fs_err::rename(&moving, dest).map_err(io_err(dest))?;
    Ok(())
}

/// A container under construction in `JUBE_HOME/tmp/<id>`, with a lock that marks its creator as
/// alive. Dropped without `commit`, it removes itself and gives back its ports.
struct Stage {
    dir: PathBuf,
    id: String,
    layout: Layout,
    lock: Option<LockedFile>,
    committed: bool,
}

impl Stage {
    fn begin(layout: &Layout, id: &str) -> Result<Self, ContainerError> {
        let dir = layout.staging_dir().join(id);
        let lock_path = dir.with_extension("lock");
        // A cleaner may unlink a lock file it took for an orphan between our open and our lock;
        // holding a lock on an unlinked file would leave the stage unguarded, so take a fresh one.
        let lock = loop {
            let lock = LockedFile::acquire(&lock_path, "a container being created")?;
            if lock.is_at_its_path() {
                break lock;
            }
        };
        fs_err::create_dir(&dir).map_err(io_err(&dir))?;
        Ok(Self {
            dir,
            id: id.to_owned(),
            layout: layout.clone(),
            lock: Some(lock),
            committed: false,
        })
    }

    fn commit(mut self, target: &Path) -> Result<(), ContainerError> {
        fs_err::rename(&self.dir, target).map_err(io_err(target))?;
        self.committed = true;
        // Only now: until the rename, the name file is what keeps a concurrent create from taking
        // the same name; from here on, state.json does.
        let _ = std::fs::remove_file(target.join(NAME_FILE));
        Ok(())
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
            let _ = ports::release(&self.layout, &self.id);
        }
        if let Some(lock) = self.lock.take() {
            let path = lock.path().to_owned();
            drop(lock);
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_free_lock_files_without_a_stage_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let orphan = dir.path().join("gone.lock");
        std::fs::write(&orphan, "").unwrap();
        let staged = dir.path().join("busy.lock");
        std::fs::write(&staged, "").unwrap();
        std::fs::create_dir(dir.path().join("busy")).unwrap();
        let held = dir.path().join("held.lock");
        let lock = LockedFile::acquire(&held, "test").unwrap();
        for p in [&orphan, &staged, &held] {
            remove_orphan_lock(p);
        }
        assert!(!orphan.exists(), "a free lock without its stage is left over");
        assert!(staged.exists(), "a stage's lock goes with its stage");
        assert!(held.exists(), "a held lock is a creator at work");
        drop(lock);
    }

    #[test]
    fn later_variables_win_and_keep_their_first_place() {
        let leases = [Lease {
            name: "http".into(),
            container_port: 8080,
            host_port: 48000,
        }];
        let user = [
            ("A".to_owned(), "1".to_owned()),
            ("HTTP_PORT".to_owned(), "9".to_owned()),
            ("A".to_owned(), "2".to_owned()),
        ];
        let env = container_env(Path::new("/c/root"), &leases, &user);
        assert_eq!(
            env,
            [
                ("APP_BASE".to_owned(), "/c/root".to_owned()),
                ("HTTP_PORT".to_owned(), "9".to_owned()),
                ("A".to_owned(), "2".to_owned()),
            ]
        );
    }

    #[test]
    fn port_requests_match_names_case_insensitively_and_refuse_unknown_ones() {
        let declared = [("http".to_owned(), 8080), ("jmx".to_owned(), 9999)];
        let requests = port_requests(&declared, &[("HTTP".to_owned(), 18080)]).unwrap();
        assert_eq!(requests[0].host_port, Some(18080));
        assert_eq!(requests[1].host_port, None);
        let err = port_requests(&declared, &[("web".to_owned(), 1)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no port named `web`") && err.contains("http, jmx"),
            "{err}"
        );
        let err = port_requests(&[], &[("web".to_owned(), 1)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("names: none"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn env_bat_leaves_out_what_it_cannot_hold_on_unix_and_warns() {
        #[derive(Default)]
        struct Warnings(std::sync::Mutex<Vec<String>>);
        impl Reporter for Warnings {
            fn warn(&self, message: &str) {
                self.0.lock().unwrap().push(message.to_owned());
            }
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("env.bat"), "@echo off\r\n").unwrap();
        let env = [
            ("ONE".to_owned(), "line".to_owned()),
            ("TWO".to_owned(), "two\nlines".to_owned()),
        ];
        let warnings = Warnings::default();
        write_env_files(dir.path(), &env, &warnings).unwrap();
        let bat = std::fs::read_to_string(dir.path().join("env.bat")).unwrap();
        assert!(bat.contains("set \"ONE=line\"") && !bat.contains("TWO"), "{bat}");
        let sh = std::fs::read_to_string(dir.path().join("env.sh")).unwrap();
        assert!(sh.contains("export TWO='two\nlines'"), "{sh}");
        assert_eq!(warnings.0.lock().unwrap().len(), 1);
    }
}
