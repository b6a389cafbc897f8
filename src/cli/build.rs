//! `jube build`, `jube push`, `jube commit`.

use std::path::Path;

use anyhow::bail;

use crate::reporter::Reporter;

pub fn build(_dir: &Path, _tag: &str) -> anyhow::Result<i32> {
    bail!("jube build is not implemented yet")
}

pub fn push(
    _image: &str,
    _repo: Option<&str>,
    _force: bool,
    _reporter: &dyn Reporter,
) -> anyhow::Result<i32> {
    bail!("jube push is not implemented yet")
}

pub fn commit(_container: &str, _image: &str) -> anyhow::Result<i32> {
    bail!("jube commit is not implemented yet")
}
