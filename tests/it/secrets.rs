//! Repository passwords never leave jube's memory except as an Authorization header to the
//! repository they belong to: not in output, errors, `inspect`, files under JUBE_HOME, the
//! processes' arguments, or a request to another host a repository redirects to.

use std::path::Path;

use crate::common::fixtures;
use crate::common::{Fault, Out, RepoServer, TestEnv, free_port};
use crate::pull::{app_zip, pull};

const PASSWORD: &str = "Zq9-distinctive-Secr3t-Xv";

#[track_caller]
fn no_password(out: &Out) {
    out.stdout_lacks(PASSWORD).stderr_lacks(PASSWORD);
}

/// Every file below `dir` whose bytes hold `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if kind.is_file()
            && std::fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
        {
            found.push(path.display().to_string());
        }
    }
    found
}

fn settings_for(id: &str) -> String {
    format!(
        "<settings><servers><server><id>{id}</id><username>deployer</username>\
         <password>{PASSWORD}</password></server></servers></settings>"
    )
}

#[test]
fn a_settings_password_shows_nowhere_whatever_the_repositories_answer() {
    let server = RepoServer::start_with_auth("deployer", PASSWORD);
    server.publish_image("acme/app", "1.0", &fixtures::image_zip(&fixtures::simple_image()));
    let dead = free_port();
    let mut env = TestEnv::new();
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!("http://127.0.0.1:{dead}/@id=dead,{}@id=private", server.url()),
    );
    env.write_settings(&format!(
        "<settings><servers><server><id>dead</id><username>deployer</username>\
         <password>{PASSWORD}</password></server><server><id>private</id><username>deployer</username>\
         <password>{PASSWORD}</password></server></servers></settings>"
    ));
    // Unreachable, then found; unknown version (every repository named in the error).
    let mut outputs = vec![
        pull(&env, "acme/app:1.0").success(),
        pull(&env, "acme/app:9.9").code(1),
        pull(&env, "acme/app").success(),
        env.jube().args(["images"]).success(),
        env.jube().args(["images", "--format", "json"]).success(),
    ];
    let out = env
        .jube()
        .args(["start", "acme/app:1.0", "--name", "web"])
        .success();
    let id = out.last_line().to_owned();
    outputs.push(out);
    outputs.push(env.jube().args(["inspect", &id]).success());
    outputs.push(env.jube().args(["ps", "-a", "--format", "json"]).success());
    // The app's processes carry no password in their arguments.
    for pid in crate::containers_support::marked_processes(&id) {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmdline).contains(PASSWORD),
            "pid {pid} has the password in its arguments"
        );
    }
    // A wrong password: a 401, with the credentials' origin named and the password not.
    env.write_settings(&settings_for("private").replace(PASSWORD, &format!("{PASSWORD}-wrong")));
    let out = pull(&env, "acme/app:2.0").code(1);
    out.stderr_contains("401 Unauthorized")
        .stderr_contains("settings.xml <server>");
    outputs.push(out);
    for out in &outputs {
        no_password(out);
    }
    outputs.push(env.jube().args(["rm", "-f", &id]).success());
    assert_eq!(
        files_holding(env.home(), PASSWORD.as_bytes()),
        Vec::<String>::new(),
        "files under JUBE_HOME hold the password"
    );
    assert_eq!(
        files_holding(env.local_repo(), PASSWORD.as_bytes()),
        Vec::<String>::new()
    );
}

#[test]
fn a_password_in_a_repository_url_is_shown_masked() {
    let dead = free_port();
    let mut env = TestEnv::new();
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!("http://deployer:{PASSWORD}@127.0.0.1:{dead}/repo/@id=dead"),
    );
    let out = pull(&env, "acme/app:1.0").code(1);
    // The credentials are split off the URL when it is read: it is shown without them.
    out.stderr_contains(&format!(
        "http://127.0.0.1:{dead}/repo/ (dead): connection refused"
    ));
    no_password(&out);
    let out = env.jube().args(["images", "--all"]).success();
    no_password(&out);
    // A URL that cannot be used is named, masked.
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!("ftp://deployer:{PASSWORD}@127.0.0.1:{dead}/repo/@id=odd"),
    );
    let out = pull(&env, "acme/app:1.0").code(1);
    out.stderr_contains("deployer:***@127.0.0.1");
    no_password(&out);
    assert_eq!(
        files_holding(env.home(), PASSWORD.as_bytes()),
        Vec::<String>::new()
    );
}

#[test]
fn a_redirect_to_another_host_never_carries_the_credentials() {
    let elsewhere = RepoServer::start_on("127.0.0.2");
    let zip = app_zip("moved");
    let rel = elsewhere.publish_image("acme/app", "1.0", &zip);
    let server = RepoServer::start_with_auth("deployer", PASSWORD);
    server.publish_image("acme/app", "1.0", &zip);
    server.set_fault(
        Some("-image.zip"),
        Fault::Redirect(format!("{}{}", elsewhere.url(), rel.trim_start_matches('/'))),
    );
    let mut env = TestEnv::new();
    env.set_env("JUBE_REMOTE_MAVEN_REPOS", format!("{}@id=private", server.url()));
    env.write_settings(&settings_for("private"));
    let out = pull(&env, "acme/app:1.0").output();
    no_password(&out);
    assert!(
        server.authorizations().iter().all(Option::is_some),
        "the repository itself got the credentials"
    );
    assert!(
        elsewhere.count("GET", "-image.zip") >= 1,
        "the redirect was followed: {:?}",
        elsewhere.requests()
    );
    assert_eq!(
        elsewhere
            .authorizations()
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
        Vec::<String>::new(),
        "credentials went to another host"
    );
}
