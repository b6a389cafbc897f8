//! `jube import SOURCE -t NAME:VERSION`: a container image's layers become an image zip in the
//! local repository. The image's file system goes to `rootfs/`; a generated `run.sh` runs its
//! Entrypoint and Cmd in its WorkingDir with its Env, absolute paths rewritten into `rootfs/`, so
//! an app whose files run on the host (jars, scripts, static binaries) runs as a local process.
//!
//! Layers are applied with the safe unzip's rules: names may not climb out, links may not point
//! out (absolute ones are taken as relative to the image's root), nothing lies beneath a link,
//! and sizes are bounded. Whiteouts remove what lower layers put there. Nothing is installed
//! unless every layer passed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::archive::{self, Source, SourceImage};
use super::image::LABEL_COORDINATES;
use super::{OciError, io_err};
use crate::container::envfile;
use crate::container::install::UnpackLimits;
use crate::image::build;
use crate::image::link;
use crate::image::pack::{Content, Entry};
use crate::maven::coordinates::Coordinates;
use crate::maven::install::Installed;
use crate::maven::local::LocalRepo;

/// The folder of the image zip that holds the image's file system.
pub const ROOTFS: &str = "rootfs";
const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// A node of the image's file system as the layers build it.
#[derive(Debug, Clone)]
enum Node {
    Dir(u32),
    File(PathBuf, u32),
    Link(String),
}

/// What an import installed.
#[derive(Debug)]
pub struct Imported {
    pub installed: Installed,
    pub ports: Vec<(String, u16)>,
    /// Entries left out (devices, pipes), which an image zip cannot hold.
    pub skipped: usize,
}

/// Imports `source` as image `c` into `local`.
pub fn import(
    source: &Source,
    c: &Coordinates,
    local: &LocalRepo,
    work_in: &Path,
    limits: &UnpackLimits,
) -> Result<Imported, OciError> {
    std::fs::create_dir_all(work_in).map_err(io_err(work_in))?;
    let work = tempfile::Builder::new()
        .prefix(".jube-import-")
        .tempdir_in(work_in)
        .map_err(io_err(work_in))?;
    let image = archive::read(source, work.path(), limits)?;
    let files = work.path().join("files");
    std::fs::create_dir(&files).map_err(io_err(&files))?;
    let mut fs = Tree::new(&image.origin, &files, limits);
    for layer in &image.layers {
        fs.apply(archive::open_layer(layer)?)?;
    }
    let ports = ports_of(&image, &fs)?;
    let run_sh = run_script(&image, &fs)?;
    let env_sh = env_script(&image, &fs, &ports);
    let mut entries = fs.entries();
    entries.push(bytes("env.sh", env_sh, 0o755));
    entries.push(bytes("ports.properties", ports_properties(&ports), 0o644));
    entries.push(bytes("run.sh", run_sh, 0o755));
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let installed = build::install_entries(local, c, &entries)?;
    Ok(Imported {
        installed,
        ports,
        skipped: fs.skipped,
    })
}

fn bytes(path: &str, text: String, mode: u32) -> Entry {
    Entry {
        path: path.to_owned(),
        content: Content::Bytes(text.into_bytes()),
        mode,
    }
}

/// The file system the layers build, with the file contents in a work folder.
struct Tree<'a> {
    origin: &'a str,
    files: &'a Path,
    nodes: BTreeMap<String, Node>,
    limits: &'a UnpackLimits,
    bytes: u64,
    count: usize,
    skipped: usize,
}

impl<'a> Tree<'a> {
    fn new(origin: &'a str, files: &'a Path, limits: &'a UnpackLimits) -> Self {
        Self {
            origin,
            files,
            nodes: BTreeMap::new(),
            limits,
            bytes: 0,
            count: 0,
            skipped: 0,
        }
    }

    fn refuse(&self, entry: &str, reason: impl Into<String>) -> OciError {
        OciError::Unsafe {
            archive: self.origin.to_owned(),
            entry: entry.to_owned(),
            reason: reason.into(),
        }
    }

    fn damaged(&self, e: io::Error) -> OciError {
        OciError::Invalid {
            origin: self.origin.to_owned(),
            detail: format!("a layer is damaged or not a tar: {e}"),
        }
    }

    /// Removes `path` and everything beneath it.
    fn remove_tree(&mut self, path: &str) {
        self.nodes.remove(path);
        let prefix = format!("{path}/");
        let below: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .map(|(k, _)| k.clone())
            .take_while(|k| k.starts_with(&prefix))
            .collect();
        for k in below {
            self.nodes.remove(&k);
        }
    }

    fn apply(&mut self, layer: Box<dyn Read>) -> Result<(), OciError> {
        let mut tar = tar::Archive::new(layer);
        let mut added: BTreeSet<String> = BTreeSet::new();
        for entry in tar.entries().map_err(|e| self.damaged(e))? {
            let mut entry = entry.map_err(|e| self.damaged(e))?;
            self.count += 1;
            if self.count > self.limits.max_entries {
                return Err(OciError::Invalid {
                    origin: self.origin.to_owned(),
                    detail: format!(
                        "its layers hold more than {} entries; refusing to import it (raise JUBE_UNPACK_MAX_ENTRIES for an image you trust)",
                        self.limits.max_entries
                    ),
                });
            }
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let path = self.clean(&raw)?;
            if path.is_empty() {
                continue; // `./`: the root itself
            }
            let (parent, name) = match path.rsplit_once('/') {
                Some((p, n)) => (p.to_owned(), n.to_owned()),
                None => (String::new(), path.clone()),
            };
            if name == OPAQUE {
                let prefix = if parent.is_empty() {
                    String::new()
                } else {
                    format!("{parent}/")
                };
                let lower: Vec<String> = self
                    .nodes
                    .keys()
                    .filter(|k| k.starts_with(&prefix) && !added.contains(*k) && **k != parent)
                    .cloned()
                    .collect();
                for k in lower {
                    self.nodes.remove(&k);
                }
                continue;
            }
            if let Some(hidden) = name.strip_prefix(WHITEOUT) {
                let target = if parent.is_empty() {
                    hidden.to_owned()
                } else {
                    format!("{parent}/{hidden}")
                };
                self.remove_tree(&target);
                continue;
            }
            self.check_parents(&raw, &path)?;
            let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
            let node = match entry.header().entry_type() {
                tar::EntryType::Directory => Node::Dir(mode | 0o700),
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let size = entry.size();
                    self.bytes = self.bytes.saturating_add(size);
                    if self.bytes > self.limits.max_total_bytes {
                        return Err(self.too_large());
                    }
                    let out = self.files.join(format!("f{}", self.count));
                    let mut f = File::create(&out).map_err(io_err(&out))?;
                    let copied =
                        io::copy(&mut (&mut entry).take(size), &mut f).map_err(|e| self.damaged(e))?;
                    if copied != size {
                        return Err(self.damaged(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "a file is cut short",
                        )));
                    }
                    Node::File(out, mode | 0o600)
                }
                tar::EntryType::Symlink => {
                    let target = entry
                        .link_name()
                        .map_err(|e| self.damaged(e))?
                        .map(|t| t.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    Node::Link(self.link_target(&raw, &path, &target)?)
                }
                tar::EntryType::Link => {
                    let target = entry
                        .link_name()
                        .map_err(|e| self.damaged(e))?
                        .map(|t| t.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let clean = self.clean(&target)?;
                    match self.nodes.get(&clean) {
                        Some(Node::File(file, mode)) => Node::File(file.clone(), *mode),
                        _ => {
                            return Err(self.refuse(
                                &raw,
                                format!("is a hard link to `{target}`, which is no file of the image"),
                            ));
                        }
                    }
                }
                _ => {
                    // Devices, pipes and sockets cannot be in a zip; a host process never needs them.
                    self.skipped += 1;
                    continue;
                }
            };
            match (&node, self.nodes.get(&path)) {
                (Node::Dir(_), Some(Node::Dir(_))) => {}
                _ => self.remove_tree(&path),
            }
            self.nodes.insert(path.clone(), node);
            added.insert(path);
        }
        Ok(())
    }

    fn too_large(&self) -> OciError {
        OciError::Invalid {
            origin: self.origin.to_owned(),
            detail: format!(
                "its layers unpack to more than {} bytes; refusing to import it (raise JUBE_UNPACK_MAX_BYTES for an image you trust)",
                self.limits.max_total_bytes
            ),
        }
    }

    fn clean(&self, raw: &str) -> Result<String, OciError> {
        if raw.contains('\0') || raw.contains('\\') {
            return Err(self.refuse(raw, "contains a NUL byte or a backslash"));
        }
        // A leading `/` names the image's root, as tar itself reads it.
        let mut parts = Vec::new();
        for part in raw.split('/') {
            match part {
                "" | "." => {}
                ".." => return Err(self.refuse(raw, "climbs out with `..`")),
                p => parts.push(p),
            }
        }
        Ok(parts.join("/"))
    }

    /// Nothing may be written through a link or beneath a file.
    fn check_parents(&self, raw: &str, path: &str) -> Result<(), OciError> {
        let mut at = 0;
        while let Some(slash) = path[at..].find('/') {
            let ancestor = &path[..at + slash];
            match self.nodes.get(ancestor) {
                Some(Node::Link(_)) => {
                    return Err(self.refuse(raw, format!("lies beneath a symlink (`{ancestor}`)")));
                }
                Some(Node::File(..)) => {
                    return Err(self.refuse(raw, format!("lies beneath a file (`{ancestor}`)")));
                }
                _ => {}
            }
            at += slash + 1;
        }
        Ok(())
    }

    /// A link's target made relative (an absolute target means the image's root), then checked
    /// with the image zips' rule: it may climb to the root, then only descend.
    fn link_target(&self, raw: &str, path: &str, target: &str) -> Result<String, OciError> {
        let depth = path.matches('/').count();
        let relative = match target.strip_prefix('/') {
            Some(rest) => {
                let up = "../".repeat(depth);
                let joined = format!("{up}{}", rest.trim_start_matches('/'));
                if joined.is_empty() { ".".to_owned() } else { joined }
            }
            None => target.to_owned(),
        };
        link::target_inside(&relative, depth)
            .map(|t| t.to_string_lossy().replace('\\', "/"))
            .map_err(|reason| self.refuse(raw, format!("is a symlink to `{target}`, which {reason}")))
    }

    fn exists(&self, image_path: &str) -> bool {
        let rel = image_path.trim_start_matches('/').trim_end_matches('/');
        rel.is_empty() || self.nodes.contains_key(rel)
    }

    fn file(&self, image_path: &str) -> Option<&Path> {
        match self.nodes.get(image_path.trim_start_matches('/')) {
            Some(Node::File(p, _)) => Some(p),
            _ => None,
        }
    }

    /// The zip entries under `rootfs/`, folders implied by deeper entries included.
    fn entries(&self) -> Vec<Entry> {
        let mut dirs: BTreeMap<String, u32> = BTreeMap::new();
        dirs.insert(String::new(), 0o755);
        for path in self.nodes.keys() {
            let mut at = 0;
            while let Some(slash) = path[at..].find('/') {
                dirs.entry(path[..at + slash].to_owned()).or_insert(0o755);
                at += slash + 1;
            }
        }
        let mut out = Vec::new();
        for (path, node) in &self.nodes {
            if let Node::Dir(mode) = node {
                dirs.insert(path.clone(), *mode);
            }
        }
        for (path, mode) in dirs {
            let path = if path.is_empty() {
                format!("{ROOTFS}/")
            } else {
                format!("{ROOTFS}/{path}/")
            };
            out.push(Entry {
                path,
                content: Content::Dir,
                mode,
            });
        }
        for (path, node) in &self.nodes {
            let path = format!("{ROOTFS}/{path}");
            match node {
                Node::Dir(_) => {}
                Node::File(file, mode) => out.push(Entry {
                    path,
                    content: Content::File(file.clone()),
                    mode: *mode,
                }),
                Node::Link(target) => out.push(Entry {
                    path,
                    content: Content::Symlink(target.clone()),
                    mode: 0o777,
                }),
            }
        }
        out
    }
}

/// Ports: the image's own ports.properties when jube exported it, else one `PORT_<n>` per TCP
/// port in ExposedPorts.
fn ports_of(image: &SourceImage, fs: &Tree<'_>) -> Result<Vec<(String, u16)>, OciError> {
    let config = image.config.config().clone().unwrap_or_default();
    let from_jube = config
        .labels()
        .as_ref()
        .is_some_and(|l| l.contains_key(LABEL_COORDINATES));
    let workdir = config.working_dir().clone().unwrap_or_else(|| "/".to_owned());
    if from_jube && let Some(file) = fs.file(&format!("{}/ports.properties", workdir.trim_end_matches('/'))) {
        return Ok(crate::container::ports::read_ports(file)?);
    }
    let mut ports = Vec::new();
    for spec in config.exposed_ports().clone().unwrap_or_default() {
        let (number, proto) = spec.split_once('/').unwrap_or((spec.as_str(), "tcp"));
        if proto != "tcp" {
            continue;
        }
        if let Ok(port) = number.parse::<u16>() {
            ports.push((format!("PORT_{port}"), port));
        }
    }
    ports.sort();
    Ok(ports)
}

fn ports_properties(ports: &[(String, u16)]) -> String {
    ports.iter().map(|(n, p)| format!("{n}={p}\n")).collect()
}

/// Quotes a word for a double-quoted sh string, so `$ROOT` can stand in front of it.
fn dq(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An absolute path of the image rewritten into the app's folder; anything else as it is.
fn rewrite(fs: &Tree<'_>, value: &str) -> String {
    if value.starts_with('/') && fs.exists(value) {
        format!("\"$ROOT\"\"{}\"", dq(value))
    } else {
        envfile::sh_quote(value)
    }
}

/// Each folder of a `PATH`-like value that the image has, rewritten into the app's folder, with
/// the host's own value last, so host tools stay at hand.
fn rewrite_path_list(fs: &Tree<'_>, name: &str, value: &str) -> String {
    let mut parts: Vec<String> = value
        .split(':')
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.starts_with('/') && fs.exists(p) {
                format!("$ROOT{}", dq(p))
            } else {
                dq(p)
            }
        })
        .collect();
    parts.push(format!("${{{name}:-}}"));
    format!("\"{}\"", parts.join(":"))
}

fn env_script(image: &SourceImage, fs: &Tree<'_>, ports: &[(String, u16)]) -> String {
    let config = image.config.config().clone().unwrap_or_default();
    let port_vars: Vec<String> = ports.iter().map(|(n, _)| envfile::port_variable(n)).collect();
    let mut text = String::from(
        "#!/bin/sh\n# The image's Env, its paths inside the image rewritten into rootfs/. The ports' \
         variables come from jube.\n",
    );
    text.push_str("ROOT=\"${APP_BASE:-$(cd \"$(dirname \"$0\")\" && pwd)}/rootfs\"\n");
    for var in config.env().clone().unwrap_or_default() {
        let Some((name, value)) = var.split_once('=') else {
            continue;
        };
        if envfile::check_name(name).is_err() || port_vars.iter().any(|p| p == name) || name == "APP_BASE" {
            continue;
        }
        let value = if name == "PATH" || name == "LD_LIBRARY_PATH" || name == "CLASSPATH" {
            rewrite_path_list(fs, name, value)
        } else {
            rewrite(fs, value)
        };
        text.push_str(&format!("export {name}={value}\n"));
    }
    text
}

fn run_script(image: &SourceImage, fs: &Tree<'_>) -> Result<String, OciError> {
    let config = image.config.config().clone().unwrap_or_default();
    let argv: Vec<String> = config
        .entrypoint()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .chain(config.cmd().clone().unwrap_or_default())
        .collect();
    if argv.is_empty() {
        return Err(OciError::Invalid {
            origin: image.origin.clone(),
            detail: "its config has neither Entrypoint nor Cmd, so jube cannot tell what to run".into(),
        });
    }
    let workdir = config
        .working_dir()
        .clone()
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".to_owned());
    let cd = if fs.exists(&workdir) {
        format!("\"$ROOT\"\"{}\"", dq(&workdir))
    } else {
        "\"$ROOT\"".to_owned()
    };
    let words: Vec<String> = argv.iter().map(|a| rewrite(fs, a)).collect();
    Ok(format!(
        "#!/bin/sh\n# Runs the image's Entrypoint and Cmd in its WorkingDir, in the foreground.\n\
         APP_BASE=\"${{APP_BASE:-$(cd \"$(dirname \"$0\")\" && pwd)}}\"\nexport APP_BASE\n\
         . \"$APP_BASE/env.sh\"\nROOT=\"$APP_BASE/rootfs\"\ncd {cd} || exit 1\nexec {}\n",
        words.join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Box<dyn Read> {
        let mut tar = tar::Builder::new(Vec::new());
        build(&mut tar);
        Box::new(io::Cursor::new(tar.into_inner().unwrap()))
    }

    fn file(tar: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, path, data).unwrap();
    }

    fn link(tar: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        tar.append_link(&mut h, path, target).unwrap();
    }

    #[test]
    fn whiteouts_remove_lower_files_and_absolute_links_become_relative() {
        let dir = tempfile::tempdir().unwrap();
        let limits = UnpackLimits::default();
        let mut fs = Tree::new("test", dir.path(), &limits);
        fs.apply(layer(|t| {
            file(t, "etc/a", b"a");
            file(t, "etc/b", b"b");
            file(t, "opt/x/1", b"1");
            link(t, "bin/sh", "/bin/busybox");
        }))
        .unwrap();
        fs.apply(layer(|t| {
            file(t, "etc/.wh.a", b"");
            file(t, "opt/x/.wh..wh..opq", b"");
            file(t, "opt/x/2", b"2");
        }))
        .unwrap();
        let keys: Vec<&str> = fs.nodes.keys().map(String::as_str).collect();
        assert_eq!(keys, ["bin/sh", "etc/b", "opt/x/2"]);
        assert!(matches!(fs.nodes.get("bin/sh"), Some(Node::Link(t)) if t == "../bin/busybox"));
    }

    #[test]
    fn escaping_names_and_links_and_writes_through_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let limits = UnpackLimits::default();
        for (build, needle) in [
            (
                Box::new(|t: &mut tar::Builder<Vec<u8>>| link(t, "etc/evil", "../../../etc/passwd"))
                    as Box<dyn FnOnce(&mut tar::Builder<Vec<u8>>)>,
                "points outside",
            ),
            (
                Box::new(|t: &mut tar::Builder<Vec<u8>>| {
                    link(t, "out", "usr");
                    file(t, "out/x", b"x");
                }),
                "beneath a symlink",
            ),
        ] {
            let mut fs = Tree::new("test", dir.path(), &limits);
            let err = fs.apply(layer(build)).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
