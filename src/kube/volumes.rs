//! A pod's volumes as folders inside each container's app folder: `volumeMounts[].mountPath` is
//! taken relative to the app's base folder.
//!
//! - `configMap`, `secret`, `downwardAPI` and `projected` volumes are files jube writes there, laid
//!   out as the kubelet lays them out: the files live in a hidden `..<digest>` folder that the
//!   `..data` link names, and each top-level name is a link through `..data`. An update writes a
//!   new folder and swaps `..data` in one rename, so an app never reads half of a change.
//! - `emptyDir` (one folder per pod, shared by its containers), `hostPath` and
//!   `persistentVolumeClaim` (a folder under the jube home that outlives its pods) are links.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::fsutil;
use crate::kube::kinds::Kind;
use crate::kube::podenv::{self, Lookup, array, data_of};
use crate::kube::reconcile::str_at as text;

/// The link that names the current files of a written volume.
const DATA_LINK: &str = "..data";

/// One file of a written volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeFile {
    /// Relative, checked to stay inside the volume.
    pub path: PathBuf,
    pub data: Vec<u8>,
    pub mode: u32,
}

/// What a mount shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Files jube writes (and rewrites when their source changes).
    Files(Vec<VolumeFile>),
    /// A folder elsewhere, linked in.
    Link(PathBuf),
}

/// One `volumeMounts[]` entry of a container, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub volume: String,
    /// `mountPath` relative to the app's base folder.
    pub path: PathBuf,
    pub sub_path: Option<PathBuf>,
    pub read_only: bool,
    pub content: Content,
}

/// Where pod-level folders live: `emptyDir` per pod uid, claims per volume name.
#[derive(Debug, Clone)]
pub struct VolumeRoots {
    pub pods: PathBuf,
    pub claims: PathBuf,
}

impl VolumeRoots {
    pub fn under(home: &Path) -> Self {
        Self {
            pods: home.join("volumes").join("pods"),
            claims: home.join("volumes").join("claims"),
        }
    }

    pub fn empty_dir(&self, pod_uid: &str, volume: &str) -> PathBuf {
        self.pods.join(pod_uid).join(volume)
    }

    pub fn claim(&self, volume_name: &str) -> PathBuf {
        self.claims.join(volume_name)
    }
}

/// The variable a mount's absolute path is exported as: `JUBE_MOUNT_<VOLUME>`, upper-cased, every
/// character that is not a letter or digit turned into `_`.
pub fn mount_variable(volume: &str) -> String {
    let name: String = volume
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("JUBE_MOUNT_{name}")
}

/// Resolves the mounts of `container`: the reason a pod cannot start (Kubernetes reports it as a
/// FailedMount) when a volume's source is missing or a path would leave the app's folder.
pub fn plan(
    pod: &Value,
    container: &Value,
    lookup: Lookup<'_>,
    roots: &VolumeRoots,
) -> Result<Vec<Mount>, String> {
    let volumes: BTreeMap<&str, &Value> = array(pod.get("spec").unwrap_or(&Value::Null), "volumes")
        .filter_map(|v| Some((text(v, "/name")?, v)))
        .collect();
    let mut mounts = Vec::new();
    for m in array(container, "volumeMounts") {
        let name = text(m, "/name").unwrap_or_default();
        let volume = volumes
            .get(name)
            .ok_or_else(|| format!("volumeMounts: no volume named \"{name}\" in the pod's volumes"))?;
        let mount_path = text(m, "/mountPath").unwrap_or_default();
        let path = inside("mountPath", mount_path)?;
        let sub_path = text(m, "/subPath")
            .filter(|s| !s.is_empty())
            .map(|s| inside("subPath", s))
            .transpose()?;
        let content = content(pod, name, volume, lookup, roots)
            .map_err(|e| format!("MountVolume.SetUp failed for volume \"{name}\" : {e}"))?;
        mounts.push(Mount {
            volume: name.to_owned(),
            path,
            sub_path,
            read_only: m.get("readOnly").and_then(Value::as_bool) == Some(true),
            content,
        });
    }
    Ok(mounts)
}

fn content(
    pod: &Value,
    name: &str,
    volume: &Value,
    lookup: Lookup<'_>,
    roots: &VolumeRoots,
) -> Result<Content, String> {
    let default_mode = |source: &Value, fallback: u32| mode_of(source.get("defaultMode")).unwrap_or(fallback);
    if let Some(source) = volume.get("configMap") {
        let mode = default_mode(source, 0o644);
        return Ok(Content::Files(keyed_files(
            Kind::ConfigMap,
            source,
            "name",
            mode,
            lookup,
        )?));
    }
    if let Some(source) = volume.get("secret") {
        let mode = default_mode(source, 0o600);
        return Ok(Content::Files(keyed_files(
            Kind::Secret,
            source,
            "secretName",
            mode,
            lookup,
        )?));
    }
    if let Some(source) = volume.get("downwardAPI") {
        let mode = default_mode(source, 0o644);
        return Ok(Content::Files(downward_files(pod, source, mode)?));
    }
    if let Some(source) = volume.get("projected") {
        let mode = default_mode(source, 0o644);
        let mut files = Vec::new();
        for s in array(source, "sources") {
            if let Some(c) = s.get("configMap") {
                files.extend(keyed_files(Kind::ConfigMap, c, "name", mode, lookup)?);
            } else if let Some(c) = s.get("secret") {
                files.extend(keyed_files(Kind::Secret, c, "name", mode, lookup)?);
            } else if let Some(c) = s.get("downwardAPI") {
                files.extend(downward_files(pod, c, mode)?);
            }
            // serviceAccountToken and clusterTrustBundle: jube has no tokens to give.
        }
        return Ok(Content::Files(files));
    }
    if volume.get("emptyDir").is_some() {
        let uid = text(pod, "/metadata/uid").unwrap_or_default();
        return Ok(Content::Link(roots.empty_dir(uid, name)));
    }
    if let Some(source) = volume.get("hostPath") {
        let path = PathBuf::from(text(source, "/path").unwrap_or_default());
        if !path.is_absolute() {
            return Err(format!("hostPath {} is not an absolute path", path.display()));
        }
        let kind = text(source, "/type").unwrap_or_default();
        match kind {
            "DirectoryOrCreate" if !path.is_dir() => {
                fs_err::create_dir_all(&path).map_err(|e| e.to_string())?
            }
            "Directory" if !path.is_dir() => {
                return Err(format!(
                    "hostPath type check failed: {} is not a directory",
                    path.display()
                ));
            }
            "File" if !path.is_file() => {
                return Err(format!(
                    "hostPath type check failed: {} is not a file",
                    path.display()
                ));
            }
            _ => {}
        }
        return Ok(Content::Link(path));
    }
    if let Some(source) = volume.get("persistentVolumeClaim") {
        let claim = text(source, "/claimName").unwrap_or_default();
        let object = lookup(Kind::PersistentVolumeClaim, claim)
            .ok_or_else(|| format!("persistentvolumeclaim \"{claim}\" not found"))?;
        let bound = text(&object, "/spec/volumeName").filter(|v| !v.is_empty());
        let volume_name = bound.ok_or_else(|| format!("persistentvolumeclaim \"{claim}\" is not bound"))?;
        return Ok(Content::Link(roots.claim(volume_name)));
    }
    let kind = volume
        .as_object()
        .and_then(|o| o.keys().find(|k| k.as_str() != "name"))
        .map_or("(none)", String::as_str);
    Err(format!(
        "volume type {kind} is not supported by jube (it supports configMap, secret, emptyDir, downwardAPI, \
         projected, hostPath and persistentVolumeClaim)"
    ))
}

/// The files of a ConfigMap or Secret source: every key, or the `items` chosen.
fn keyed_files(
    kind: Kind,
    source: &Value,
    name_field: &str,
    mode: u32,
    lookup: Lookup<'_>,
) -> Result<Vec<VolumeFile>, String> {
    let name = text(source, &format!("/{name_field}")).unwrap_or_default();
    let optional = source.get("optional").and_then(Value::as_bool) == Some(true);
    let Some(object) = lookup(kind, name) else {
        return if optional {
            Ok(Vec::new())
        } else {
            Err(format!("{} \"{name}\" not found", kind.singular()))
        };
    };
    let values = data_of(kind, &object);
    let items: Vec<&Value> = array(source, "items").collect();
    if items.is_empty() {
        return values
            .into_iter()
            .map(|(key, data)| {
                Ok(VolumeFile {
                    path: inside("key", &key)?,
                    data,
                    mode,
                })
            })
            .collect();
    }
    let mut files = Vec::new();
    for item in items {
        let key = text(item, "/key").unwrap_or_default();
        let Some(data) = values.get(key) else {
            if optional {
                continue;
            }
            return Err(format!(
                "{} references non-existent {} key: {key}",
                kind.singular(),
                match kind {
                    Kind::Secret => "secret",
                    _ => "config",
                }
            ));
        };
        files.push(VolumeFile {
            path: inside("items.path", text(item, "/path").unwrap_or(key))?,
            data: data.clone(),
            mode: mode_of(item.get("mode")).unwrap_or(mode),
        });
    }
    Ok(files)
}

/// A downwardAPI source's files: pod fields and container resources.
fn downward_files(pod: &Value, source: &Value, mode: u32) -> Result<Vec<VolumeFile>, String> {
    let mut files = Vec::new();
    for item in array(source, "items") {
        let value = if let Some(r) = item.get("fieldRef") {
            let path = text(r, "/fieldPath").unwrap_or_default();
            podenv::field_value(pod, path).ok_or_else(|| format!("unsupported fieldPath: {path}"))?
        } else if let Some(r) = item.get("resourceFieldRef") {
            podenv::resource_value(r, pod, &Value::Null)?
        } else {
            continue;
        };
        files.push(VolumeFile {
            path: inside("items.path", text(item, "/path").unwrap_or_default())?,
            data: value.into_bytes(),
            mode: mode_of(item.get("mode")).unwrap_or(mode),
        });
    }
    Ok(files)
}

/// A path taken relative to a folder it must stay in: no `..`, no drive or root once the leading
/// `/` is dropped, not empty.
fn inside(what: &str, raw: &str) -> Result<PathBuf, String> {
    let trimmed = raw.trim_start_matches(['/', '\\']);
    let path = Path::new(trimmed);
    let clean: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| match c {
            Component::Normal(part) if !part.to_string_lossy().contains('\\') => Ok(part),
            _ => Err(format!(
                "{what} `{raw}` must not contain `..` or leave its folder"
            )),
        })
        .collect::<Result<_, _>>()?;
    if clean.as_os_str().is_empty() {
        return Err(format!("{what} `{raw}` names no path inside the folder"));
    }
    Ok(clean)
}

fn mode_of(v: Option<&Value>) -> Option<u32> {
    v.and_then(Value::as_u64)
        .and_then(|m| u32::try_from(m & 0o777).ok())
}

/// Makes every mount of a container appear in its app folder. Written volumes that are current
/// are left alone, so this is also the periodic refresh.
pub fn materialize(app_base: &Path, mounts: &[Mount]) -> io::Result<()> {
    for m in mounts {
        let target = app_base.join(&m.path);
        match (&m.content, &m.sub_path) {
            (Content::Files(files), None) => {
                write_files(&target, files, m.read_only)?;
            }
            // A subPath of written files is a copy, not kept in step (as in Kubernetes).
            (Content::Files(files), Some(sub)) => {
                if !target.exists() {
                    copy_sub_path(&target, files, sub, m.read_only)?;
                }
            }
            (Content::Link(source), sub) => {
                let source = match sub {
                    Some(sub) => source.join(sub),
                    None => source.clone(),
                };
                if !source.exists() {
                    fs_err::create_dir_all(&source)?;
                }
                link(&source, &target)?;
            }
        }
    }
    Ok(())
}

/// Rewrites the written volumes whose sources changed; links stay as they are.
pub fn refresh(app_base: &Path, mounts: &[Mount]) -> io::Result<bool> {
    let mut changed = false;
    for m in mounts {
        if let (Content::Files(files), None) = (&m.content, &m.sub_path) {
            changed |= write_files(&app_base.join(&m.path), files, m.read_only)?;
        }
    }
    Ok(changed)
}

fn digest(files: &[VolumeFile], read_only: bool) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update(f.path.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(f.mode.to_le_bytes());
        h.update((f.data.len() as u64).to_le_bytes());
        h.update(&f.data);
    }
    h.update([u8::from(read_only)]);
    hex::encode(&h.finalize()[..8])
}

/// Writes `files` at `dir` in the kubelet's layout; `false` when they were already current.
fn write_files(dir: &Path, files: &[VolumeFile], read_only: bool) -> io::Result<bool> {
    let version = format!("..{}", digest(files, read_only));
    if fs_err::symlink_metadata(dir).is_ok_and(|m| !m.is_dir()) || is_foreign_dir(dir) {
        remove_any(dir)?;
    }
    fs_err::create_dir_all(dir)?;
    let data_link = dir.join(DATA_LINK);
    if std::fs::read_link(&data_link).is_ok_and(|t| t == Path::new(&version)) {
        return Ok(false);
    }
    let staged = dir.join(format!("{version}.tmp"));
    remove_any(&staged)?;
    fs_err::create_dir_all(&staged)?;
    for f in files {
        let path = staged.join(&f.path);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        let mode = if read_only { f.mode & !0o222 } else { f.mode };
        fsutil::write_atomic_mode(&path, &f.data, Some(mode)).map_err(|e| fsutil::with_path(e, &path))?;
    }
    let final_dir = dir.join(&version);
    remove_any(&final_dir)?;
    fs_err::rename(&staged, &final_dir)?;
    let tmp_link = dir.join("..data_tmp");
    remove_any(&tmp_link)?;
    symlink(Path::new(&version), &tmp_link)?;
    fs_err::rename(&tmp_link, &data_link)?;
    // Top-level names link through ..data; names no longer there go.
    let top: std::collections::BTreeSet<std::ffi::OsString> = files
        .iter()
        .filter_map(|f| f.path.components().next())
        .map(|c| c.as_os_str().to_owned())
        .collect();
    for name in &top {
        let link_path = dir.join(name);
        let wanted = Path::new(DATA_LINK).join(name);
        if std::fs::read_link(&link_path).is_ok_and(|t| t == wanted) {
            continue;
        }
        remove_any(&link_path)?;
        symlink(&wanted, &link_path)?;
    }
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let text = name.to_string_lossy();
        let stale = if text.starts_with("..") {
            text != DATA_LINK && name != version.as_str()
        } else {
            !top.contains(&name)
        };
        if stale {
            remove_any(&entry.path())?;
        }
    }
    Ok(true)
}

/// A folder that an image shipped at a mount path (not one jube wrote): the mount shadows it.
fn is_foreign_dir(dir: &Path) -> bool {
    dir.is_dir() && std::fs::symlink_metadata(dir.join(DATA_LINK)).is_err()
}

fn copy_sub_path(target: &Path, files: &[VolumeFile], sub: &Path, read_only: bool) -> io::Result<()> {
    let mut found = false;
    for f in files {
        let Ok(rest) = f.path.strip_prefix(sub) else {
            continue;
        };
        found = true;
        // The subPath names a file: the mount is that file.
        let path = if rest.as_os_str().is_empty() {
            target.to_path_buf()
        } else {
            target.join(rest)
        };
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        let mode = if read_only { f.mode & !0o222 } else { f.mode };
        fsutil::write_atomic_mode(&path, &f.data, Some(mode)).map_err(|e| fsutil::with_path(e, &path))?;
    }
    if !found {
        fs_err::create_dir_all(target)?;
    }
    Ok(())
}

fn link(source: &Path, target: &Path) -> io::Result<()> {
    if std::fs::read_link(target).is_ok_and(|t| t == source) {
        return Ok(());
    }
    if let Some(parent) = target.parent() {
        fs_err::create_dir_all(parent)?;
    }
    remove_any(target)?;
    symlink(source, target)
}

fn remove_any(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs_err::remove_dir_all(path),
        Ok(_) => fs_err::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(fsutil::with_path(e, path)),
    }
}

#[cfg(unix)]
fn symlink(source: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(source, link).map_err(|e| fsutil::with_path(e, link))
}

#[cfg(windows)]
fn symlink(source: &Path, link: &Path) -> io::Result<()> {
    std::os::windows::fs::symlink_dir(source, link).map_err(|e| fsutil::with_path(e, link))
}

/// Folders of pods that are gone: `emptyDir` lives as long as its pod.
pub fn sweep_pods(roots: &VolumeRoots, live_uids: &std::collections::HashSet<String>) {
    let Ok(entries) = std::fs::read_dir(&roots.pods) else {
        return;
    };
    for entry in entries.flatten() {
        if !live_uids.contains(entry.file_name().to_string_lossy().as_ref()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Folders of claims that are gone: a claim's data lives until the claim is deleted.
pub fn sweep_claims(roots: &VolumeRoots, live_volumes: &std::collections::HashSet<String>) {
    let Ok(entries) = std::fs::read_dir(&roots.claims) else {
        return;
    };
    for entry in entries.flatten() {
        if !live_volumes.contains(entry.file_name().to_string_lossy().as_ref()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lookup(kind: Kind, name: &str) -> Option<Value> {
        match (kind, name) {
            (Kind::ConfigMap, "settings") => {
                Some(json!({"data": {"app.properties": "mode=demo\n", "color": "blue"}}))
            }
            (Kind::Secret, "db") => Some(json!({"data": {"password": "aHVudGVyMg=="}})),
            (Kind::PersistentVolumeClaim, "data") => Some(json!({"spec": {"volumeName": "pvc-1"}})),
            _ => None,
        }
    }

    fn pod(volumes: Value) -> Value {
        json!({"metadata": {"name": "web-1", "namespace": "default", "uid": "u-1", "labels": {"app": "web"}},
            "spec": {"volumes": volumes}})
    }

    fn roots(dir: &Path) -> VolumeRoots {
        VolumeRoots::under(dir)
    }

    #[cfg(unix)]
    #[test]
    fn config_and_secret_files_are_written_and_swapped_whole() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app");
        let pod = pod(json!([{"name": "config", "configMap": {"name": "settings"}},
            {"name": "creds", "secret": {"secretName": "db"}},
            {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}]));
        let container = json!({"volumeMounts": [{"name": "config", "mountPath": "/etc/config"},
            {"name": "creds", "mountPath": "secrets"}, {"name": "info", "mountPath": "/etc/podinfo"},
            {"name": "config", "mountPath": "/etc/one.properties", "subPath": "app.properties"}]});
        let mounts = plan(&pod, &container, &lookup, &roots(dir.path())).unwrap();
        materialize(&app, &mounts).unwrap();
        assert_eq!(
            std::fs::read_to_string(app.join("etc/config/color")).unwrap(),
            "blue"
        );
        assert_eq!(
            std::fs::read_to_string(app.join("etc/one.properties")).unwrap(),
            "mode=demo\n"
        );
        assert_eq!(
            std::fs::read_to_string(app.join("etc/podinfo/labels")).unwrap(),
            "app=\"web\""
        );
        let secret = app.join("secrets/password");
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "hunter2");
        assert_eq!(
            fsutil::mode_of(&std::fs::canonicalize(&secret).unwrap()),
            Some(0o600)
        );
        assert_eq!(
            fsutil::mode_of(&std::fs::canonicalize(app.join("etc/config/color")).unwrap()),
            Some(0o644)
        );
        assert!(!refresh(&app, &mounts).unwrap(), "nothing changed");

        let changed = |kind: Kind, name: &str| match (kind, name) {
            (Kind::ConfigMap, "settings") => Some(json!({"data": {"color": "red"}})),
            _ => lookup(kind, name),
        };
        let mounts = plan(&pod, &container, &changed, &roots(dir.path())).unwrap();
        assert!(refresh(&app, &mounts).unwrap());
        assert_eq!(
            std::fs::read_to_string(app.join("etc/config/color")).unwrap(),
            "red"
        );
        assert!(
            !app.join("etc/config/app.properties").exists(),
            "a removed key goes"
        );
        let hidden: Vec<String> = std::fs::read_dir(app.join("etc/config"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".."))
            .collect();
        assert_eq!(hidden.len(), 2, "one version and ..data: {hidden:?}");
        // The subPath copy is not kept in step, as in Kubernetes.
        assert_eq!(
            std::fs::read_to_string(app.join("etc/one.properties")).unwrap(),
            "mode=demo\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn items_modes_and_read_only_are_honoured() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app");
        let pod = pod(
            json!([{"name": "config", "configMap": {"name": "settings", "defaultMode": 0o640,
            "items": [{"key": "color", "path": "ui/color.txt"}, {"key": "app.properties", "path": "app.properties", "mode": 0o600}]}}]),
        );
        let container = json!({"volumeMounts": [{"name": "config", "mountPath": "/conf", "readOnly": true}]});
        let mounts = plan(&pod, &container, &lookup, &roots(dir.path())).unwrap();
        materialize(&app, &mounts).unwrap();
        let real = |p: &str| std::fs::canonicalize(app.join(p)).unwrap();
        assert_eq!(
            std::fs::read_to_string(real("conf/ui/color.txt")).unwrap(),
            "blue"
        );
        assert_eq!(fsutil::mode_of(&real("conf/ui/color.txt")), Some(0o440));
        assert_eq!(fsutil::mode_of(&real("conf/app.properties")), Some(0o400));
    }

    #[cfg(unix)]
    #[test]
    fn empty_dirs_and_claims_are_folders_that_outlive_the_container() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app");
        let pod = pod(
            json!([{"name": "scratch", "emptyDir": {}}, {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "host", "hostPath": {"path": dir.path().join("shared").to_str().unwrap(), "type": "DirectoryOrCreate"}}]),
        );
        let container = json!({"volumeMounts": [{"name": "scratch", "mountPath": "/tmp/scratch"},
            {"name": "data", "mountPath": "/var/lib/data"}, {"name": "host", "mountPath": "/mnt/host"}]});
        let r = roots(dir.path());
        let mounts = plan(&pod, &container, &lookup, &r).unwrap();
        materialize(&app, &mounts).unwrap();
        std::fs::write(app.join("var/lib/data/kept"), "x").unwrap();
        std::fs::write(app.join("tmp/scratch/f"), "x").unwrap();
        std::fs::write(app.join("mnt/host/h"), "x").unwrap();
        assert!(r.claim("pvc-1").join("kept").is_file());
        assert!(r.empty_dir("u-1", "scratch").join("f").is_file());
        assert!(dir.path().join("shared/h").is_file());
        sweep_pods(&r, &Default::default());
        assert!(
            !r.empty_dir("u-1", "scratch").exists(),
            "a gone pod's emptyDir goes"
        );
        sweep_claims(&r, &["pvc-1".to_owned()].into_iter().collect());
        assert!(
            r.claim("pvc-1").join("kept").is_file(),
            "a live claim's data stays"
        );
    }

    #[test]
    fn missing_sources_and_escaping_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let r = roots(dir.path());
        let mount = |volumes: Value, mounts: Value| {
            plan(&pod(volumes), &json!({"volumeMounts": mounts}), &lookup, &r)
        };
        let err = mount(
            json!([{"name": "c", "configMap": {"name": "nope"}}]),
            json!([{"name": "c", "mountPath": "/c"}]),
        )
        .unwrap_err();
        assert_eq!(
            err,
            "MountVolume.SetUp failed for volume \"c\" : configmap \"nope\" not found"
        );
        assert!(
            mount(
                json!([{"name": "c", "configMap": {"name": "nope", "optional": true}}]),
                json!([{"name": "c", "mountPath": "/c"}])
            )
            .is_ok()
        );
        let err = mount(
            json!([{"name": "c", "configMap": {"name": "settings"}}]),
            json!([{"name": "c", "mountPath": "/../../etc"}]),
        )
        .unwrap_err();
        assert!(err.contains("must not contain `..`"), "{err}");
        let err = mount(json!([{"name": "c", "configMap": {"name": "settings", "items": [{"key": "color", "path": "../x"}]}}]),
            json!([{"name": "c", "mountPath": "/c"}])).unwrap_err();
        assert!(err.contains("must not contain `..`"), "{err}");
        let err = mount(json!([{"name": "c", "configMap": {"name": "settings", "items": [{"key": "size", "path": "s"}]}}]),
            json!([{"name": "c", "mountPath": "/c"}])).unwrap_err();
        assert!(err.contains("non-existent config key: size"), "{err}");
        let err = mount(
            json!([{"name": "n", "nfs": {"server": "x", "path": "/"}}]),
            json!([{"name": "n", "mountPath": "/n"}]),
        )
        .unwrap_err();
        assert!(err.contains("volume type nfs is not supported"), "{err}");
        let err = mount(json!([]), json!([{"name": "x", "mountPath": "/x"}])).unwrap_err();
        assert!(err.contains("no volume named \"x\""), "{err}");
        let err = mount(
            json!([{"name": "d", "persistentVolumeClaim": {"claimName": "other"}}]),
            json!([{"name": "d", "mountPath": "/d"}]),
        )
        .unwrap_err();
        assert!(err.contains("persistentvolumeclaim \"other\" not found"), "{err}");
        assert_eq!(mount_variable("my-config.v1"), "JUBE_MOUNT_MY_CONFIG_V1");
    }
}
