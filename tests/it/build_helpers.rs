//! Helpers shared by the stock-image, build, push and commit tests: image folders on disk, what
//! `jube inspect` and `jube port` say, HTTP through curl, and Maven itself.
#![allow(dead_code)] // each test module uses a different part

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{Kind, Out, TestEnv, ZipEntry, wait_until};

/// The image folder under `images/` in this repository.
pub fn stock_image_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("images").join(name)
}

/// `version=` of a stock image's `image.properties`.
pub fn builtin_version(name: &str) -> String {
    let props = std::fs::read_to_string(stock_image_dir(name).join("image.properties")).unwrap();
    props
        .lines()
        .find_map(|l| l.strip_prefix("version="))
        .expect("image.properties has version=")
        .trim()
        .to_owned()
}

/// Writes zip-fixture entries as a folder, modes included.
pub fn write_folder(dir: &Path, entries: &[ZipEntry]) {
    for entry in entries {
        let path = dir.join(&entry.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        match &entry.kind {
            Kind::Dir => std::fs::create_dir_all(&path).unwrap(),
            Kind::File => {
                std::fs::write(&path, &entry.data).unwrap();
                if let Some(mode) = entry.mode {
                    set_mode(&path, mode);
                }
            }
            Kind::Symlink(target) => std::os::unix::fs::symlink(target, &path).unwrap(),
        }
    }
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The record `jube inspect` prints for one container.
pub fn inspect(env: &TestEnv, id: &str) -> serde_json::Value {
    let out = env.jube().args(["inspect", id]).success();
    let all: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"));
    all[0].clone()
}

pub fn app_base(env: &TestEnv, id: &str) -> PathBuf {
    PathBuf::from(inspect(env, id)["app_base_path"].as_str().expect("app_base_path"))
}

/// The host port `jube port` shows for a port name (`HTTP 8080 -> 48000`).
pub fn host_port(env: &TestEnv, id: &str, name: &str) -> u16 {
    let out = env.jube().args(["port", id]).success();
    out.stdout
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(name))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no port {name}\n{out}"))
}

/// What curl gets from `url`, or `None` while nothing answers.
pub fn curl(env: &TestEnv, url: &str) -> Option<String> {
    let out = env
        .command("curl")
        .args(["-sf", "--max-time", "5", url])
        .timeout(Duration::from_secs(20))
        .output();
    (out.code == Some(0)).then_some(out.stdout)
}

/// Waits for an HTTP answer on 127.0.0.1:`port` and returns it.
pub fn wait_for_http(env: &TestEnv, port: u16) -> String {
    let url = format!("http://127.0.0.1:{port}/");
    let mut body = None;
    wait_until(&format!("an answer from {url}"), Duration::from_secs(60), || {
        body = curl(env, &url);
        body.is_some()
    });
    body.unwrap_or_default()
}

/// The path of an image file in a Maven repository folder.
pub fn repo_file(root: &Path, image: &str, version: &str, file: &str) -> PathBuf {
    let (group, artifact) = crate::common::fixtures::image_coords(image);
    root.join(group.replace('.', "/"))
        .join(artifact)
        .join(version)
        .join(file)
}

pub fn sha1_hex(bytes: &[u8]) -> String {
    crate::common::fixtures::sha1_hex(bytes)
}

pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(bytes))
}

/// A settings.xml for Maven itself: `local_repo` as its local repository, plugins from Debian's
/// file repository, and `remote` (id, URL) as the only other repository when given.
pub fn maven_settings(env: &TestEnv, local_repo: &Path, remote: Option<(&str, &str)>) -> PathBuf {
    let (exclude, profile) = match remote {
        Some((id, url)) => (
            format!(",!{id}"),
            format!(
                "<profiles><profile><id>p</id><repositories><repository><id>{id}</id><url>{url}</url>
    <releases><checksumPolicy>fail</checksumPolicy></releases>
    <snapshots><enabled>true</enabled><checksumPolicy>fail</checksumPolicy></snapshots>
  </repository></repositories></profile></profiles>
  <activeProfiles><activeProfile>p</activeProfile></activeProfiles>"
            ),
        ),
        None => (String::new(), String::new()),
    };
    let path = env.root().join("maven-settings.xml");
    std::fs::write(
        &path,
        format!(
            r#"<settings>
  <localRepository>{}</localRepository>
  <mirrors><mirror><id>deb</id><mirrorOf>*{exclude}</mirrorOf><url>file:///usr/share/maven-repo</url></mirror></mirrors>
  {profile}
</settings>
"#,
            local_repo.display()
        ),
    )
    .unwrap();
    path
}

/// Runs Maven's dependency:get for an image zip (`GROUP:ARTIFACT:VERSION:zip:image`).
pub fn maven_get(env: &TestEnv, settings: &Path, image: &str, version: &str) -> Out {
    let (group, artifact) = crate::common::fixtures::image_coords(image);
    env.command("mvn")
        .args(["-q", "-B", "-s", settings.to_str().unwrap()])
        .arg("org.apache.maven.plugins:maven-dependency-plugin:3.5.0:get")
        .arg(format!("-Dartifact={group}:{artifact}:{version}:zip:image"))
        .arg("-Dtransitive=false")
        .timeout(Duration::from_secs(240))
        .output()
}

/// Every regular file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                found.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

/// The entry names of a zip file, in order.
pub fn zip_names(path: &Path) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = zip::ZipArchive::new(file).unwrap();
    (0..archive.len())
        .map(|i| archive.by_index(i).unwrap().name().unwrap().into_owned())
        .collect()
}

/// One entry of a zip file, as text.
pub fn zip_text(path: &Path, name: &str) -> String {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = zip::ZipArchive::new(file).unwrap();
    let mut entry = archive.by_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
    text
}
