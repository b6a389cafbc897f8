//! `jube pull`, `jube images`, `jube rmi`.

use anyhow::{Context, bail};

use super::PullFlags;
use super::output::{self, Format};
use crate::maven::resolver::ResolveOptions;
use crate::registry::Registry;
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
                        i.version.clone(),
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

pub fn remove(names: &[String], _force: bool) -> anyhow::Result<i32> {
    let registry = Registry::from_env()?;
    let mut failed = false;
    for name in names {
        let image = registry.parse(name)?;
        let cached = registry.cached(&image);
        if cached.is_empty() {
            eprintln!("error: image {name} is not in the local repository; `jube images` lists what is");
            failed = true;
            continue;
        }
        for summary in cached {
            registry.remove(&summary)?;
            output::print(&format!("Deleted: {}:{}\n", summary.image, summary.version))?;
        }
    }
    if failed {
        bail!("some images could not be removed");
    }
    Ok(0)
}
