//! `jube pull`, `jube images`, `jube rmi`.

use std::path::Path;

use anyhow::{Context, bail};

use super::PullFlags;
use super::output::{self, Format};
use crate::container::lifecycle::Containers;
use crate::image::ImageNameError;
use crate::maven::builtin::BUILTIN_ID;
use crate::maven::resolver::ResolveOptions;
use crate::registry::{Registry, RegistryError};
use crate::reporter::Reporter;

impl PullFlags {
    pub fn options(&self) -> ResolveOptions {
        ResolveOptions {
            offline: self.offline,
            refresh: self.refresh,
            strict_checksums: self.strict_checksums,
            ..Default::default()
        }
    }
}

pub fn pull(name: &str, flags: &PullFlags, reporter: &dyn Reporter) -> anyhow::Result<i32> {
    let registry = Registry::from_env()?;
    let image = registry.parse(name)?;
    let resolved = registry
        .pull(&image, flags.options(), reporter)
        .with_context(|| format!("cannot pull {name}"))?;
    let c = &resolved.coordinates;
    match &resolved.downloaded_from {
        Some(repo) if repo == BUILTIN_ID => {
            reporter.info(&format!("installed {c} from the images built into jube"))
        }
        Some(repo) => reporter.info(&format!("downloaded {c} from {repo}")),
        None => reporter.info(&format!(
            "{c} is up to date in {}",
            registry.local.root().display()
        )),
    }
    output::print(&format!("{c}\n{}\n", resolved.path.display()))?;
    Ok(0)
}

pub fn list(format: Format, all: bool) -> anyhow::Result<i32> {
    let registry = Registry::from_env()?;
    let mut images = registry.list();
    if all {
        images.extend(registry.builtin());
    }
    match format {
        Format::Json => output::print_json(&images)?,
        Format::Table => {
            let now = std::time::SystemTime::now();
            let rows: Vec<Vec<String>> = images
                .iter()
                .map(|i| {
                    let pulled = match (i.builtin, i.pulled.and_then(|t| now.duration_since(t).ok())) {
                        (true, _) => "built in".to_owned(),
                        (false, Some(d)) => format!("{} ago", output::human_duration(d)),
                        (false, None) => String::new(),
                    };
                    vec![
                        i.image.clone(),
                        i.version.to_string(),
                        i.coordinates.clone(),
                        output::human_size(i.size),
                        pulled,
                    ]
                })
                .collect();
            output::print(&output::table(
                &["IMAGE", "VERSION", "COORDINATES", "SIZE", "PULLED"],
                &rows,
            ))?;
        }
    }
    Ok(0)
}

/// `jube rmi`: every name is tried; the command fails if any could not be removed.
pub fn remove(names: &[String], force: bool) -> anyhow::Result<i32> {
    let registry = Registry::from_env()?;
    let containers = Containers::new(registry.layout.clone());
    if let [name] = names {
        remove_one(&registry, &containers, name, force)?;
        return Ok(0);
    }
    let mut failed = 0;
    for name in names {
        if let Err(e) = remove_one(&registry, &containers, name, force) {
            if is_usage_error(&e) {
                return Err(e);
            }
            eprintln!("error: {e:#}");
            failed += 1;
        }
    }
    if failed > 0 {
        bail!("{failed} of {} images could not be removed", names.len());
    }
    Ok(0)
}

fn remove_one(registry: &Registry, containers: &Containers, name: &str, force: bool) -> anyhow::Result<()> {
    let image = registry.parse(name)?;
    let cached = registry.cached(&image);
    if cached.is_empty() {
        bail!(
            "image {name} is not in the local repository {}; `jube images` lists what is",
            registry.local.root().display()
        );
    }
    for summary in &cached {
        let users = users_of(containers, &summary.path);
        if !users.is_empty() && !force {
            bail!(
                "image {}:{} is used by container {}; remove the container first (`jube rm`), or use \
                 `jube rmi -f` (the containers keep their unpacked copy)",
                summary.image,
                summary.version,
                users.join(", ")
            );
        }
    }
    for summary in &cached {
        registry
            .remove(&image, summary)
            .with_context(|| format!("cannot remove {}:{}", summary.image, summary.version))?;
        output::print(&format!("Deleted: {}:{}\n", summary.image, summary.version))?;
    }
    Ok(())
}

/// The containers (`name (short id)`) created from this zip.
fn users_of(containers: &Containers, zip: &Path) -> Vec<String> {
    let mut users = containers.users_of(zip);
    if let Ok(real) = zip.canonicalize()
        && real != zip
    {
        users.extend(containers.users_of(&real));
    }
    users
        .iter()
        .map(|s| format!("{} ({})", s.name, &s.id[..s.id.len().min(12)]))
        .collect()
}

/// Whether a failure is the user's argument, not the work: a malformed image name. Such errors
/// exit 2, like clap's usage errors.
pub fn is_usage_error(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.is::<ImageNameError>()
            || matches!(
                cause.downcast_ref::<RegistryError>(),
                Some(RegistryError::Name(_))
            )
    })
}
