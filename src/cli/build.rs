//! `jube build`, `jube push`, `jube commit`: each prints the image's coordinates and where the file
//! now is on stdout; warnings and progress go to stderr.

use std::path::Path;

use anyhow::{Context, bail};

use super::EXIT_USAGE;
use super::output;
use super::progress::TerminalReporter;
use crate::container::lifecycle::Containers;
use crate::image::ImageRef;
use crate::image::{build as image_build, commit as image_commit};
use crate::layout::Layout;
use crate::maven::coordinates::Coordinates;
use crate::maven::deploy;
use crate::registry::Registry;
use crate::reporter::Reporter;

/// The image `IMAGE:VERSION` names and its coordinates, or `Err(code)` after saying what is wrong.
fn tagged(registry: &Registry, flag: &str, tag: &str) -> Result<(ImageRef, Coordinates), i32> {
    let parsed = registry
        .parse(tag)
        .map_err(anyhow::Error::from)
        .and_then(|image| {
            let c = image_build::tag_coordinates(&image)?;
            Ok((image, c))
        });
    parsed.map_err(|e| {
        eprintln!("error: {flag}{e}");
        EXIT_USAGE
    })
}

/// `jube images` walks only the image group prefix; images under other coordinates are listed
/// because they are remembered.
fn remember(registry: &Registry, image: &ImageRef, reporter: &dyn Reporter) {
    if let Err(e) = registry.remember(image) {
        reporter.warn(&format!("{e}; `jube images` will not list {image}"));
    }
}

pub fn build(dir: &Path, tag: &str) -> anyhow::Result<i32> {
    let reporter = TerminalReporter::new(false);
    let registry = Registry::from_env()?;
    let (image, c) = match tagged(&registry, "-t: ", tag) {
        Ok(tagged) => tagged,
        Err(code) => return Ok(code),
    };
    let built = image_build::build(dir, &c, &registry.local)?;
    remember(&registry, &image, &reporter);
    for warning in &built.warnings {
        reporter.warn(warning);
    }
    let installed = &built.installed;
    reporter.info(&format!(
        "built {} from {} ({}, sha1 {})",
        tag,
        dir.display(),
        output::human_size(installed.size),
        installed.sha1
    ));
    output::print(&format!("{c}\n{}\n", installed.path.display()))?;
    Ok(0)
}

pub fn push(image: &str, repo: Option<&str>, force: bool, reporter: &dyn Reporter) -> anyhow::Result<i32> {
    let registry = Registry::from_env()?;
    let (_, c) = match tagged(&registry, "", image) {
        Ok(tagged) => tagged,
        Err(code) => return Ok(code),
    };
    if registry.offline {
        bail!(
            "cannot push {image}: settings.xml says <offline>true</offline>; set it to false to reach a repository"
        );
    }
    let settings = registry.settings.as_ref();
    let candidates = deploy::push_candidates(settings)?;
    let target = deploy::choose_repository(repo, &candidates, settings)?;
    reporter.info(&format!("pushing {c} to {target}"));
    let pushed = deploy::push(&registry.local, &c, &target, force, reporter)
        .with_context(|| format!("cannot push {image} to {target}"))?;
    output::print(&format!("{}\n{}\n", pushed.coordinates, pushed.url))?;
    Ok(0)
}

pub fn commit(container: &str, image: &str) -> anyhow::Result<i32> {
    let reporter = TerminalReporter::new(false);
    let registry = Registry::from_env()?;
    let (reference, c) = match tagged(&registry, "", image) {
        Ok(tagged) => tagged,
        Err(code) => return Ok(code),
    };
    let containers = Containers::new(Layout::from_env());
    let committed = image_commit::commit(&containers, container, &c, &registry.local)?;
    remember(&registry, &reference, &reporter);
    if !committed.left_out.is_empty() {
        reporter.info(&format!(
            "left out what belongs to the run: {}",
            committed.left_out.join(", ")
        ));
    }
    reporter.info(&format!("committed container {} as {image}", committed.container));
    output::print(&format!("{c}\n{}\n", committed.installed.path.display()))?;
    Ok(0)
}
