//! `jube export` and `jube import`: the wiring from arguments to `crate::oci`.

use std::path::PathBuf;

use anyhow::{Context, bail};

use super::PullFlags;
use super::output;
use crate::container::install::UnpackLimits;
use crate::container::ports::PortRange;
use crate::layout::Layout;
use crate::maven::resolver::Resolved;
use crate::oci::bundle::{self, BundleOptions};
use crate::oci::image::{self as oci_image, ArchiveOptions, Format};
use crate::registry::Registry;
use crate::reporter::Reporter;

#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// The image: `IMAGE[:VERSION]`.
    image: String,
    /// Write an OCI runtime bundle (config.json and rootfs/) into this new folder.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["format", "output", "base"])]
    bundle: Option<PathBuf>,
    /// For --bundle: mount a host path read-only at the same path inside (repeatable), such as
    /// /usr and /bin for a shell.
    #[arg(long = "bind-host", value_name = "PATH", requires = "bundle")]
    bind_host: Vec<PathBuf>,
    /// For --bundle: use this host port for a port the image declares: `--port HTTP=8080`.
    #[arg(long = "port", value_name = "NAME=N", requires = "bundle")]
    ports: Vec<String>,
    /// Write a container image archive of this format (with -o FILE).
    #[arg(long, value_enum, requires = "output")]
    format: Option<ArchiveFormat>,
    /// The archive to write.
    #[arg(short = 'o', long = "output", value_name = "FILE", requires = "format")]
    output: Option<PathBuf>,
    /// The image the app's layer goes on top of: an OCI or docker archive (busybox, a JRE, ...).
    #[arg(long, value_name = "ARCHIVE", requires = "format")]
    base: Option<PathBuf>,
    #[command(flatten)]
    pull: PullFlags,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The container image: `oci-archive:FILE`, `docker-archive:FILE` or `oci:DIR`.
    source: String,
    /// The image name and version to install it as: `-t myteam/app:1.0`.
    #[arg(short = 't', long = "tag", value_name = "IMAGE:VERSION")]
    tag: String,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ArchiveFormat {
    /// An OCI image layout in a tar (what `skopeo copy oci-archive:` reads).
    OciArchive,
    /// A `docker save` tar (what `docker load` and `skopeo copy docker-archive:` read).
    DockerArchive,
}

/// Pulls the image when needed and returns its zip.
fn resolve(image: &str, flags: &PullFlags, reporter: &dyn Reporter) -> anyhow::Result<Resolved> {
    let registry = Registry::from_env()?;
    let reference = registry.parse(image)?;
    let resolved = registry
        .pull(&reference, flags.options(), reporter)
        .with_context(|| format!("cannot get image {image}"))?;
    if let Some(repo) = &resolved.downloaded_from {
        reporter.info(&format!("downloaded {} from {repo}", resolved.coordinates));
    }
    Ok(resolved)
}

fn port_flags(flags: &[String]) -> anyhow::Result<Vec<(String, u16)>> {
    flags
        .iter()
        .map(|p| {
            let Some((name, port)) = p.split_once('=') else {
                bail!("--port {p}: expected NAME=N, for example --port HTTP=8080");
            };
            let port: u16 = port
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .with_context(|| format!("--port {p}: `{port}` is not a port number (1 to 65535)"))?;
            Ok((name.to_owned(), port))
        })
        .collect()
}

pub fn export(args: &ExportArgs, reporter: &dyn Reporter) -> anyhow::Result<i32> {
    if let (Some(format), Some(out)) = (args.format, &args.output) {
        return export_archive(args, format, out, reporter);
    }
    let Some(dir) = &args.bundle else {
        bail!("say what to export: --bundle DIR, or --format oci-archive|docker-archive -o FILE");
    };
    let ports = port_flags(&args.ports)?;
    let resolved = resolve(&args.image, &args.pull, reporter)?;
    let options = BundleOptions {
        bind_host: args.bind_host.clone(),
        ports,
        hostname: resolved.coordinates.artifact_id.to_string(),
        range: PortRange::from_env()?,
        limits: UnpackLimits::from_env()?,
    };
    let written = bundle::export(&resolved.path, dir, &options, &Layout::from_env(), reporter)
        .with_context(|| format!("cannot export {} as a bundle", args.image))?;
    let mut out = String::new();
    for lease in &written.ports {
        out.push_str(&format!(
            "{} {} -> {}\n",
            lease.name, lease.container_port, lease.host_port
        ));
    }
    out.push_str(&format!("{}\n", written.dir.display()));
    output::print(&out)?;
    Ok(0)
}

fn export_archive(
    args: &ExportArgs,
    format: ArchiveFormat,
    out: &std::path::Path,
    reporter: &dyn Reporter,
) -> anyhow::Result<i32> {
    let registry = Registry::from_env()?;
    let resolved = resolve(&args.image, &args.pull, reporter)?;
    let c = &resolved.coordinates;
    let short = crate::image::image_name(&c.group_id, &c.artifact_id, &registry.prefix);
    let name = if short.starts_with("mvn:") {
        c.artifact_id.to_string()
    } else {
        short
    };
    let options = ArchiveOptions {
        format: match format {
            ArchiveFormat::OciArchive => Format::OciArchive,
            ArchiveFormat::DockerArchive => Format::DockerArchive,
        },
        base: args.base.clone(),
        name: name.to_ascii_lowercase(),
        coordinates: c.clone(),
        limits: UnpackLimits::from_env()?,
    };
    let written = oci_image::export(&resolved.path, out, &options, reporter)
        .with_context(|| format!("cannot export {} as an image archive", args.image))?;
    reporter.info(&format!("config {}", written.config_digest));
    let mut text = String::new();
    if let Some(digest) = &written.manifest_digest {
        text.push_str(&format!("{digest}\n"));
    }
    text.push_str(&format!("{}\n", written.path.display()));
    output::print(&text)?;
    Ok(0)
}

pub fn import(args: &ImportArgs, reporter: &dyn Reporter) -> anyhow::Result<i32> {
    let registry = Registry::from_env()?;
    let source = crate::oci::archive::Source::parse(&args.source)?;
    let image = registry.parse(&args.tag).context("-t")?;
    let c = crate::image::build::tag_coordinates(&image).context("-t")?;
    let layout = Layout::from_env();
    let imported = crate::oci::import::import(
        &source,
        &c,
        &registry.local,
        &layout.staging_dir(),
        &UnpackLimits::from_env()?,
    )
    .with_context(|| format!("cannot import {}", args.source))?;
    if let Err(e) = registry.remember(&image) {
        reporter.warn(&format!("{e}; `jube images` will not list {image}"));
    }
    if imported.skipped > 0 {
        reporter.warn(&format!(
            "left out {} devices, pipes or sockets, which an image zip cannot hold",
            imported.skipped
        ));
    }
    let ports: Vec<String> = imported.ports.iter().map(|(n, p)| format!("{n}={p}")).collect();
    reporter.info(&format!(
        "imported {} as {} (ports: {})",
        args.source,
        args.tag,
        if ports.is_empty() {
            "none".to_owned()
        } else {
            ports.join(", ")
        }
    ));
    output::print(&format!("{c}\n{}\n", imported.installed.path.display()))?;
    Ok(0)
}
