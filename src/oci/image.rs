//! `jube export IMAGE --format oci-archive|docker-archive -o FILE [--base ARCHIVE]`: the image
//! zip's files as one layer (at `/app`) on top of an optional base image, with a config that runs
//! `run.sh` there. The output is deterministic: no leased ports, a fixed `created` time, sorted
//! tars and JSON with sorted keys, so the same input gives the same digests.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::{Config, History, ImageConfiguration, MediaType};
use serde_json::{Value, json};

use super::archive::{self, Layer, Source};
use super::tarball::{self, Blob, FIXED_CREATED};
use super::{APP_DIR, OciError, io_err, unpack_app};
use crate::container::envfile;
use crate::container::install::UnpackLimits;
use crate::container::ports;
use crate::image::pack;
use crate::maven::coordinates::Coordinates;
use crate::reporter::Reporter;

/// Labels on exported images: the Maven coordinates the image zip came from.
pub const LABEL_COORDINATES: &str = "io.fabric8.jube.coordinates";
pub const LABEL_TITLE: &str = "org.opencontainers.image.title";
pub const LABEL_VERSION: &str = "org.opencontainers.image.version";
const REF_NAME: &str = "org.opencontainers.image.ref.name";
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OciArchive,
    DockerArchive,
}

#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    pub format: Format,
    pub base: Option<PathBuf>,
    /// The repository name in a docker archive's tags (`team/web`).
    pub name: String,
    pub coordinates: Coordinates,
    pub limits: UnpackLimits,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub manifest_digest: Option<String>,
    pub config_digest: String,
}

/// Exports image zip `zip` as an archive at `out` (replaced only once complete).
pub fn export(
    zip: &Path,
    out: &Path,
    options: &ArchiveOptions,
    reporter: &dyn Reporter,
) -> Result<Written, OciError> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let work = tempfile::Builder::new()
        .prefix(".jube-export-")
        .tempdir_in(&parent)
        .map_err(io_err(&parent))?;
    let base = match &options.base {
        Some(path) => Some(archive::read(
            &Source::archive_file(path)?,
            work.path(),
            &options.limits,
        )?),
        None => None,
    };

    let app = work.path().join("app");
    unpack_app(zip, &app, &options.limits, reporter)?;
    let declared = ports::read_ports(&app.join("ports.properties"))?;
    let layer_tar = work.path().join("layer.tar");
    let diff_id = write_app_layer(&app, &layer_tar)?;
    let layer_gz = work.path().join("layer.tar.gz");
    let gz = tarball::gzip_file(&layer_tar, &layer_gz).map_err(io_err(&layer_gz))?;
    let ours = Layer {
        path: layer_gz,
        digest: gz.digest.clone(),
        size: gz.size,
        gzip: true,
    };

    let config = image_config(base.as_ref().map(|b| &b.config), &declared, &diff_id, options)?;
    let config_bytes = canonical_json(&config)?;
    let config_blob = blob_of(&config_bytes);
    let mut layers: Vec<Layer> = base.as_ref().map(|b| b.layers.clone()).unwrap_or_default();
    layers.push(ours);

    let temp_out = work.path().join("out.tar");
    let manifest_digest = match options.format {
        Format::OciArchive => Some(write_oci(
            &temp_out,
            &config_bytes,
            &config_blob,
            &layers,
            options,
        )?),
        Format::DockerArchive => {
            write_docker(
                &temp_out,
                work.path(),
                &config_bytes,
                &config_blob,
                &layers,
                options,
            )?;
            None
        }
    };
    std::fs::rename(&temp_out, out).map_err(io_err(out))?;
    Ok(Written {
        path: out.to_owned(),
        manifest_digest,
        config_digest: config_blob.digest,
    })
}

/// The app's files under `app/`, as one uncompressed tar; returns its diff id.
fn write_app_layer(app: &Path, dest: &Path) -> Result<Blob, OciError> {
    let entries = pack::collect(app).map_err(io_err(app))?;
    let file = File::create(dest).map_err(io_err(dest))?;
    let mut tar = tar::Builder::new(tarball::Hashing::new(io::BufWriter::new(file)));
    let prefix = format!("{}/", APP_DIR.trim_start_matches('/'));
    let write = |tar: &mut tar::Builder<_>| -> io::Result<()> {
        tarball::append_dir(tar, &prefix)?;
        for entry in &entries {
            tarball::append_entry(tar, &prefix, entry)?;
        }
        tar.finish()
    };
    write(&mut tar).map_err(io_err(dest))?;
    let (mut writer, blob) = tar.into_inner().map_err(io_err(dest))?.finish();
    writer.flush().map_err(io_err(dest))?;
    Ok(blob)
}

fn blob_of(bytes: &[u8]) -> Blob {
    let mut hashing = tarball::Hashing::new(io::sink());
    let _ = hashing.write_all(bytes);
    hashing.finish().1
}

/// JSON with sorted keys (serde_json's map is ordered), so labels and ports have one order.
fn canonical_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, OciError> {
    let value = serde_json::to_value(value).map_err(|e| OciError::Runtime(e.to_string()))?;
    serde_json::to_vec(&value).map_err(|e| OciError::Runtime(e.to_string()))
}

fn host_config() -> Result<ImageConfiguration, OciError> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    serde_json::from_value(json!({
        "architecture": arch,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
    }))
    .map_err(|e| OciError::Runtime(e.to_string()))
}

/// The base's config (or a fresh one for this host) with the app on top: run.sh at /app, the
/// declared container ports as `NAME_PORT` and `ExposedPorts`, and the coordinates as labels.
fn image_config(
    base: Option<&ImageConfiguration>,
    declared: &[(String, u16)],
    diff_id: &Blob,
    options: &ArchiveOptions,
) -> Result<ImageConfiguration, OciError> {
    let mut config = match base {
        Some(base) => base.clone(),
        None => host_config()?,
    };
    let c = &options.coordinates;
    let mut run = config.config().clone().unwrap_or_default();
    let ours: Vec<(String, String)> = std::iter::once(("APP_BASE".to_owned(), APP_DIR.to_owned()))
        .chain(
            declared
                .iter()
                .map(|(name, port)| (envfile::port_variable(name), port.to_string())),
        )
        .collect();
    let mut env: Vec<String> = run
        .env()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| {
            let key = e.split('=').next().unwrap_or_default();
            !ours.iter().any(|(k, _)| k == key)
        })
        .collect();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_owned());
    }
    env.extend(ours.iter().map(|(k, v)| format!("{k}={v}")));
    run.set_env(Some(env));
    let exposed: Vec<String> = declared.iter().map(|(_, p)| format!("{p}/tcp")).collect();
    run.set_exposed_ports(if exposed.is_empty() { None } else { Some(exposed) });
    run.set_entrypoint(None);
    run.set_cmd(Some(vec![format!("{APP_DIR}/run.sh")]));
    run.set_working_dir(Some(APP_DIR.to_owned()));
    let mut labels: HashMap<String, String> = run.labels().clone().unwrap_or_default();
    labels.insert(LABEL_COORDINATES.to_owned(), c.to_string());
    labels.insert(LABEL_TITLE.to_owned(), c.artifact_id.to_string());
    labels.insert(LABEL_VERSION.to_owned(), c.version.to_string());
    run.set_labels(Some(labels));
    config.set_config(Some::<Config>(run));
    config.set_created(Some(FIXED_CREATED.to_owned()));
    let diff: oci_spec::image::Digest = diff_id
        .digest
        .parse()
        .map_err(|e: oci_spec::OciSpecError| OciError::Runtime(e.to_string()))?;
    let had_layers = !config.rootfs().diff_ids().is_empty();
    config.rootfs_mut().diff_ids_mut().push(diff.to_string());
    let mut entry = History::default();
    entry.set_created(Some(FIXED_CREATED.to_owned()));
    entry.set_created_by(Some(format!("jube export {c}")));
    match config.history_mut() {
        Some(history) => history.push(entry),
        None if !had_layers => {
            config.set_history(Some(vec![entry]));
        }
        None => {}
    }
    Ok(config)
}

fn layer_media_type(layer: &Layer) -> MediaType {
    if layer.gzip {
        MediaType::ImageLayerGzip
    } else {
        MediaType::ImageLayer
    }
}

/// An OCI image layout in a tar: `oci-layout`, `index.json`, and the blobs.
fn write_oci(
    out: &Path,
    config_bytes: &[u8],
    config_blob: &Blob,
    layers: &[Layer],
    options: &ArchiveOptions,
) -> Result<String, OciError> {
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MediaType::ImageManifest.to_string(),
        "config": {
            "mediaType": MediaType::ImageConfig.to_string(),
            "digest": config_blob.digest,
            "size": config_blob.size,
        },
        "layers": layers.iter().map(|l| json!({
            "mediaType": layer_media_type(l).to_string(),
            "digest": l.digest,
            "size": l.size,
        })).collect::<Vec<Value>>(),
    });
    let manifest_bytes = canonical_json(&manifest)?;
    let manifest_blob = blob_of(&manifest_bytes);
    let index = json!({
        "schemaVersion": 2,
        "mediaType": MediaType::ImageIndex.to_string(),
        "manifests": [{
            "mediaType": MediaType::ImageManifest.to_string(),
            "digest": manifest_blob.digest,
            "size": manifest_blob.size,
            "annotations": {REF_NAME: options.coordinates.version.to_string()},
        }],
    });
    let index_bytes = canonical_json(&index)?;

    enum Item<'a> {
        Bytes(&'a [u8]),
        File(&'a Path),
    }
    let mut blobs: BTreeMap<String, Item<'_>> = BTreeMap::new();
    let hex = |d: &str| d.trim_start_matches("sha256:").to_owned();
    blobs.insert(hex(&config_blob.digest), Item::Bytes(config_bytes));
    blobs.insert(hex(&manifest_blob.digest), Item::Bytes(&manifest_bytes));
    for l in layers {
        blobs.insert(hex(&l.digest), Item::File(&l.path));
    }
    let file = File::create(out).map_err(io_err(out))?;
    let mut tar = tar::Builder::new(io::BufWriter::new(file));
    let mut write = || -> io::Result<()> {
        tarball::append_dir(&mut tar, "blobs/")?;
        tarball::append_dir(&mut tar, "blobs/sha256/")?;
        for (hex, item) in &blobs {
            let path = format!("blobs/sha256/{hex}");
            match item {
                Item::Bytes(b) => tarball::append_bytes(&mut tar, &path, b)?,
                Item::File(f) => tarball::append_file(&mut tar, &path, f)?,
            }
        }
        tarball::append_bytes(&mut tar, "index.json", &index_bytes)?;
        tarball::append_bytes(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        tar.finish()
    };
    write().map_err(io_err(out))?;
    tar.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(io_err(out))?;
    Ok(manifest_blob.digest)
}

/// A `docker save` tar: `manifest.json`, the config, and each layer uncompressed as
/// `<diff id>/layer.tar`.
fn write_docker(
    out: &Path,
    work: &Path,
    config_bytes: &[u8],
    config_blob: &Blob,
    layers: &[Layer],
    options: &ArchiveOptions,
) -> Result<(), OciError> {
    let mut plain: Vec<(String, PathBuf)> = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let dest = work.join(format!("plain-{i}.tar"));
        let blob = archive::uncompressed(layer, &dest)?;
        plain.push((blob.digest.trim_start_matches("sha256:").to_owned(), dest));
    }
    let config_name = format!("{}.json", config_blob.digest.trim_start_matches("sha256:"));
    let tag = format!("{}:{}", options.name, options.coordinates.version);
    let manifest = json!([{
        "Config": config_name,
        "RepoTags": [tag],
        "Layers": plain.iter().map(|(hex, _)| format!("{hex}/layer.tar")).collect::<Vec<_>>(),
    }]);
    let manifest_bytes = canonical_json(&manifest)?;
    let mut dirs: BTreeMap<&str, &Path> = BTreeMap::new();
    for (hex, path) in &plain {
        dirs.insert(hex, path);
    }
    let file = File::create(out).map_err(io_err(out))?;
    let mut tar = tar::Builder::new(io::BufWriter::new(file));
    let mut write = || -> io::Result<()> {
        // Sorted names: `<hex>.json` and `<hex>/` sort by their hex, `manifest.json` last.
        let mut names: BTreeMap<String, Option<&Path>> = BTreeMap::new();
        names.insert(config_name.clone(), None);
        for (hex, path) in &dirs {
            names.insert(format!("{hex}/"), None);
            names.insert(format!("{hex}/layer.tar"), Some(path));
        }
        for (name, path) in &names {
            match path {
                Some(p) => tarball::append_file(&mut tar, name, p)?,
                None if name.ends_with('/') => tarball::append_dir(&mut tar, name)?,
                None => tarball::append_bytes(&mut tar, name, config_bytes)?,
            }
        }
        tarball::append_bytes(&mut tar, "manifest.json", &manifest_bytes)?;
        tar.finish()
    };
    write().map_err(io_err(out))?;
    tar.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(io_err(out))?;
    Ok(())
}
