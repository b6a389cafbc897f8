//! Real Maven reads what jube cached: the file, its pom and `_remote.repositories` are accepted
//! as they are, without Maven downloading anything again.

use std::path::Path;

use crate::common::{RepoServer, TestEnv, missing, runs};
use crate::pull::{REPO_ID, app_zip, env_for, pull, pulled_path};

const DEPENDENCY_PLUGIN: &str =
    "/usr/share/maven-repo/org/apache/maven/plugins/maven-dependency-plugin/3.5.0";

/// Whether `mvn` and Debian's dependency plugin are here; says why not when they are missing.
fn maven_available() -> bool {
    !missing(runs("mvn", &["--version"]), "`mvn` (apt-get install maven)")
        && !missing(
            Path::new(DEPENDENCY_PLUGIN).is_dir(),
            &format!("{DEPENDENCY_PLUGIN} (apt-get install libmaven-dependency-plugin-java)"),
        )
}

/// TESTING.md's recipe: the test's local repository, every other repository mirrored to Debian's
/// plugin folder, and the repository id jube recorded.
fn maven_settings(env: &TestEnv, server: &RepoServer) -> std::path::PathBuf {
    let path = env.root().join("maven-settings.xml");
    let xml = format!(
        "<settings>\n  <localRepository>{local}</localRepository>\n  <mirrors><mirror><id>deb</id>\
         <mirrorOf>*,!{REPO_ID}</mirrorOf><url>file:///usr/share/maven-repo</url></mirror></mirrors>\n  \
         <profiles><profile><id>p</id><repositories><repository><id>{REPO_ID}</id><url>{url}</url>\
         <snapshots><enabled>true</enabled></snapshots></repository></repositories></profile></profiles>\n  \
         <activeProfiles><activeProfile>p</activeProfile></activeProfiles>\n</settings>\n",
        local = env.local_repo().display(),
        url = server.url(),
    );
    std::fs::write(&path, xml).expect("write Maven's settings");
    path
}

fn maven_get(env: &TestEnv, settings: &Path, artifact: &str) -> crate::common::Out {
    env.command("mvn")
        .args(["-B", "-q", "-s"])
        .arg(settings)
        .arg("org.apache.maven.plugins:maven-dependency-plugin:3.5.0:get")
        .arg(format!("-Dartifact={artifact}"))
        .arg("-Dtransitive=false")
        .timeout(std::time::Duration::from_secs(180))
        .output()
}

#[test]
fn real_maven_uses_the_release_jube_cached() {
    if !maven_available() {
        return;
    }
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let env = env_for(&server);
    let zip = pulled_path(&pull(&env, "acme/app:1.0").success());
    let settings = maven_settings(&env, &server);
    // With the repository gone, Maven succeeds only if it takes jube's files as they are.
    drop(server);

    let out = maven_get(&env, &settings, "io.fabric8.jube.images.acme:app:1.0:zip:image");
    assert_eq!(out.code, Some(0), "Maven accepts the cached file\n{out}");
    assert_eq!(std::fs::read(&zip).unwrap(), app_zip("1.0"));
}

#[test]
fn real_maven_uses_the_snapshot_build_jube_cached() {
    if !maven_available() {
        return;
    }
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0-SNAPSHOT", &app_zip("snap"));
    let env = env_for(&server);
    let zip = pulled_path(&pull(&env, "acme/app:1.0-SNAPSHOT").success());
    let settings = maven_settings(&env, &server);
    // Maven may ask for fresh metadata (and warn when it cannot), but never for the file again.
    drop(server);

    let out = maven_get(
        &env,
        &settings,
        "io.fabric8.jube.images.acme:app:1.0-SNAPSHOT:zip:image",
    );
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(std::fs::read(&zip).unwrap(), app_zip("snap"));
}
