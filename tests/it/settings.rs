//! settings.xml and the repository variables, through `jube pull`: profiles, mirrors, servers
//! (Basic auth), encrypted passwords, proxies and NO_PROXY, localRepository, and file: repositories.
//! No password ever shows in any output.

use crate::common::{Out, RepoServer, TestEnv, free_port};
use crate::pull::{app_zip, cached_zip, pull, pulled_path};

const PASSWORD: &str = "Pa55-w0rd-never-shown";

/// Fails if the password shows anywhere in what the command wrote.
#[track_caller]
fn no_password(out: &Out) {
    out.stdout_lacks(PASSWORD).stderr_lacks(PASSWORD);
}

fn settings_with(body: &str) -> String {
    format!("<settings>{body}</settings>")
}

fn profile_repository(id: &str, url: &str) -> String {
    format!(
        "<profiles><profile><id>p</id><repositories><repository><id>{id}</id><url>{url}</url>\
         </repository></repositories></profile></profiles><activeProfiles><activeProfile>p</activeProfile>\
         </activeProfiles>"
    )
}

fn origin_of(out: &Out) -> String {
    std::fs::read_to_string(pulled_path(out).with_file_name("_remote.repositories"))
        .expect("_remote.repositories")
}

#[test]
fn repositories_of_active_profiles_are_used() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let env = TestEnv::new();
    env.write_settings(&settings_with(&profile_repository("company", &server.url())));
    let out = pull(&env, "acme/app").success();
    assert!(origin_of(&out).contains("app-1.0-image.zip>company="));
}

#[test]
fn a_mirror_serves_the_repositories_it_mirrors() {
    let mirror = RepoServer::start();
    mirror.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let mut env = TestEnv::new();
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!("http://127.0.0.1:{}/@id=dead", free_port()),
    );
    env.write_settings(&settings_with(&format!(
        "<mirrors><mirror><id>corp-mirror</id><mirrorOf>*</mirrorOf><url>{}</url></mirror></mirrors>",
        mirror.url()
    )));
    let out = pull(&env, "acme/app:1.0").success();
    out.stderr_lacks("unreachable");
    assert!(
        origin_of(&out).contains(">corp-mirror="),
        "recorded under the mirror's id"
    );

    // `!id` keeps a repository out of the mirror.
    env.write_settings(&settings_with(&format!(
        "<mirrors><mirror><id>corp-mirror</id><mirrorOf>*,!dead</mirrorOf><url>{}</url></mirror></mirrors>",
        mirror.url()
    )));
    pull(&env, "acme/app:2.0")
        .code(1)
        .stderr_contains("dead")
        .stderr_contains("connection refused");
}

#[test]
fn server_credentials_authenticate_and_never_show() {
    let server = RepoServer::start_with_auth("deployer", PASSWORD);
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let mut env = TestEnv::new();
    env.set_env("JUBE_REMOTE_MAVEN_REPOS", format!("{}@id=private", server.url()));

    let out = pull(&env, "acme/app:1.0").code(1);
    out.stderr_contains("401").stderr_contains("credentials");
    no_password(&out);

    env.write_settings(&settings_with(
        "<servers><server><id>private</id><username>deployer</username><password>wrong</password></server></servers>",
    ));
    let out = pull(&env, "acme/app:1.0").code(1);
    out.stderr_contains("401").stderr_lacks("wrong");

    env.write_settings(&settings_with(&format!(
        "<servers><server><id>private</id><username>deployer</username><password>{PASSWORD}</password></server></servers>"
    )));
    let out = pull(&env, "acme/app").success();
    no_password(&out);
    assert!(origin_of(&out).contains(">private="));
}

#[test]
fn credentials_in_the_repository_variable_authenticate_and_never_show() {
    let server = RepoServer::start_with_auth("deployer", PASSWORD);
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let host = server.url().trim_start_matches("http://").to_owned();
    let mut env = TestEnv::new();
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!("http://deployer:{PASSWORD}@{host}@id=private"),
    );
    let out = pull(&env, "acme/app").success();
    no_password(&out);
    // And in every failure message.
    let out = pull(&env, "acme/app:9.9").code(1);
    out.stderr_contains(&server.url());
    no_password(&out);
    let out = env.jube().args(["images", "--format", "json"]).success();
    no_password(&out);
    // A bad entry is named without its password.
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!("http://deployer:{PASSWORD}@{host}@bogus"),
    );
    let out = pull(&env, "acme/app").code(1);
    out.stderr_contains("JUBE_REMOTE_MAVEN_REPOS");
    no_password(&out);
}

#[test]
fn an_encrypted_password_that_does_not_decrypt_is_a_clear_error() {
    let server = RepoServer::start();
    let mut env = TestEnv::new();
    env.set_env("JUBE_REMOTE_MAVEN_REPOS", format!("{}@id=private", server.url()));
    let secret = "{COQLCE6DU6GtcS5P=}";
    env.write_settings(&settings_with(&format!(
        "<servers><server><id>private</id><username>u</username><password>{secret}</password></server></servers>"
    )));
    let out = pull(&env, "acme/app:1.0").code(1);
    out.stderr_contains("server `private`")
        .stderr_contains("cannot decrypt")
        .stderr_contains("settings-security.xml")
        .stderr_contains(&env.root().join("settings.xml").display().to_string())
        .stderr_lacks("COQLCE6DU6GtcS5P");
    assert_eq!(server.requests(), []);
}

/// The master password Maven encrypts passwords with, in these tests.
const MASTER: &str = "m4ster-of-the-tests";

/// `{...}` on the last line of a `mvn --encrypt-*` command's output.
fn braced(out: &Out) -> String {
    let line = out
        .stdout
        .lines()
        .rfind(|l| l.contains('{'))
        .expect("mvn printed a {...} value");
    let start = line.find('{').unwrap();
    let end = line.rfind('}').unwrap();
    line[start..=end].to_owned()
}

/// The master password encrypted for settings-security.xml, and [`PASSWORD`] encrypted with it,
/// by the real Maven when it is installed (it must be under CI=true); otherwise values Maven 3.8.7
/// made for the master password `SECRET`. Returns (master password, encrypted master, encrypted password).
fn maven_encrypted(env: &TestEnv) -> (String, String, String) {
    let mvn = std::process::Command::new("mvn").arg("--version").output();
    if !mvn.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "`mvn` is not installed, and CI=true: install Maven (scripts/test does)"
        );
        eprintln!("`mvn` is not installed: using encrypted values Maven 3.8.7 made");
        return (
            "SECRET".to_owned(),
            "{6HJ+lQAP2vYHse853w6Bn2gb/PsTfJb0fhglgU/D4jE=}".to_owned(),
            "{7xkYXjT1MWMHTRnsLF1nmRIlTP0cnyb9xalvzR6pFPJy+AfxdJnRxBiDDNjauoNN}".to_owned(),
        );
    }
    let master = braced(
        &env.command("mvn")
            .args(["-B", "--encrypt-master-password", MASTER])
            .success(),
    );
    let security = env.root().join("mvn-security.xml");
    std::fs::write(
        &security,
        format!("<settingsSecurity><master>{master}</master></settingsSecurity>"),
    )
    .unwrap();
    let password = braced(
        &env.command("mvn")
            .arg("-B")
            .arg(format!("-Dsettings.security={}", security.display()))
            .args(["--encrypt-password", PASSWORD])
            .success(),
    );
    (MASTER.to_owned(), master, password)
}

fn security_xml(master: &str) -> String {
    format!("<settingsSecurity><master>{master}</master></settingsSecurity>")
}

/// settings.xml passwords encrypted by Maven are decrypted with the master password of
/// settings-security.xml (`JUBE_MAVEN_SETTINGS_SECURITY`, else `~/.m2/settings-security.xml`) and
/// sent in clear to the server only; with another master password the pull is refused before
/// anything is sent.
#[test]
fn passwords_encrypted_by_maven_are_decrypted_with_the_master_password() {
    let server = RepoServer::start_with_auth("deployer", PASSWORD);
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let mut env = TestEnv::new();
    env.set_env("JUBE_REMOTE_MAVEN_REPOS", format!("{}@id=private", server.url()));
    let (_, master, password) = maven_encrypted(&env);
    env.write_settings(&settings_with(&format!(
        "<servers><server><id>private</id><username>deployer</username><password>{password}</password>\
         </server></servers>"
    )));

    // The default place, as Maven reads it.
    let m2 = env.user_home().join(".m2");
    std::fs::create_dir_all(&m2).unwrap();
    std::fs::write(m2.join("settings-security.xml"), security_xml(&master)).unwrap();
    let out = pull(&env, "acme/app:1.0").success();
    no_password(&out);
    std::fs::remove_file(m2.join("settings-security.xml")).unwrap();
    std::fs::remove_dir_all(env.local_repo()).unwrap();

    // JUBE_MAVEN_SETTINGS_SECURITY, as `mvn -Dsettings.security=FILE`.
    let security = env.root().join("security.xml");
    std::fs::write(&security, security_xml(&master)).unwrap();
    env.set_env("JUBE_MAVEN_SETTINGS_SECURITY", &security);
    let out = pull(&env, "acme/app:1.0").success();
    no_password(&out);
    assert!(pulled_path(&out).is_file());

    // Another master password: refused, nothing sent.
    std::fs::remove_dir_all(env.local_repo()).unwrap();
    // Maven 3.8.7's encryption of the master password `OTHER`.
    std::fs::write(
        &security,
        security_xml("{eShE8fF+1eEHtgKtrQQY1TM3LcaqmzCgoGaQsUuMk7A=}"),
    )
    .unwrap();
    server.clear_requests();
    let out = pull(&env, "acme/app:1.0").code(1);
    out.stderr_contains("server `private`")
        .stderr_contains("does not decrypt with the master password")
        .stderr_contains(&security.display().to_string())
        .stderr_lacks(&password[1..password.len() - 1]);
    no_password(&out);
    assert_eq!(
        server.requests(),
        [],
        "nothing is sent with a password that did not decrypt"
    );
}

#[test]
fn loopback_is_never_proxied() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let dead_proxy = format!("http://127.0.0.1:{}", free_port());
    let mut env = crate::pull::env_for(&server);
    for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY"] {
        env.set_env(var, &dead_proxy);
    }
    pull(&env, "acme/app:1.0").success();
    // Nor by a settings.xml proxy.
    let env = crate::pull::env_for(&server);
    let port = dead_proxy.rsplit(':').next().unwrap();
    env.write_settings(&settings_with(&format!(
        "<proxies><proxy><protocol>http</protocol><host>127.0.0.1</host><port>{port}</port></proxy></proxies>"
    )));
    pull(&env, "acme/app:1.0").success();
}

/// A repository that is not loopback by name but still on this machine: `0.0.0.0` connects to
/// the local host. Through a proxy, the request goes to the proxy (a `RepoServer` serves the
/// absolute-form request by its path); without one, straight to `origin`.
fn non_loopback_url(origin: &RepoServer) -> String {
    format!("http://0.0.0.0:{}/", origin.port())
}

#[test]
fn proxy_variables_are_used_and_no_proxy_exempts_hosts() {
    let origin = RepoServer::start();
    let proxy = RepoServer::start();
    for server in [&origin, &proxy] {
        server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    }
    let mut env = TestEnv::new();
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!("{}@id=remote", non_loopback_url(&origin)),
    );
    env.set_env("HTTP_PROXY", proxy.url());
    pull(&env, "acme/app:1.0").success();
    assert!(
        proxy.count("GET", "-image.zip") == 1 && origin.requests().is_empty(),
        "through the proxy"
    );

    let mut env = TestEnv::new();
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!("{}@id=remote", non_loopback_url(&origin)),
    );
    env.set_env("HTTP_PROXY", proxy.url());
    env.set_env("NO_PROXY", "example.com,0.0.0.0");
    proxy.clear_requests();
    pull(&env, "acme/app:1.0").success();
    assert!(
        origin.count("GET", "-image.zip") == 1 && proxy.requests().is_empty(),
        "direct"
    );
}

#[test]
fn a_settings_proxy_is_used_unless_non_proxy_hosts_exempts_the_host() {
    let origin = RepoServer::start();
    let proxy = RepoServer::start();
    for server in [&origin, &proxy] {
        server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    }
    let proxy_xml = |non_proxy: &str| {
        settings_with(&format!(
            "<proxies><proxy><id>corp</id><protocol>http</protocol><host>127.0.0.1</host><port>{}</port>\
             <nonProxyHosts>{non_proxy}</nonProxyHosts></proxy></proxies>",
            proxy.port()
        ))
    };
    let mut env = TestEnv::new();
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!("{}@id=remote", non_loopback_url(&origin)),
    );
    // The variables lose to settings.xml.
    env.set_env("HTTP_PROXY", format!("http://127.0.0.1:{}", free_port()));
    env.write_settings(&proxy_xml("*.example.com"));
    pull(&env, "acme/app:1.0").success();
    assert!(proxy.count("GET", "-image.zip") == 1 && origin.requests().is_empty());

    let mut env2 = TestEnv::new();
    env2.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!("{}@id=remote", non_loopback_url(&origin)),
    );
    env2.write_settings(&proxy_xml("*.example.com|0.0.0.*"));
    proxy.clear_requests();
    pull(&env2, "acme/app:1.0").success();
    assert!(origin.count("GET", "-image.zip") == 1 && proxy.requests().is_empty());
}

#[test]
fn settings_local_repository_is_used_without_the_variable() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let env = crate::pull::env_for(&server);
    let elsewhere = env.root().join("elsewhere-repo");
    env.write_settings(&settings_with(&format!(
        "<localRepository>{}</localRepository>",
        elsewhere.display()
    )));
    let out = pull(&env, "acme/app:1.0").env_remove("JUBE_LOCAL_REPO").success();
    assert!(pulled_path(&out).starts_with(&elsewhere), "{out}");
    assert!(!cached_zip(&env, "acme/app", "1.0").exists());
}

#[test]
fn a_file_repository_is_read_like_a_remote_one() {
    let folder = tempfile::tempdir().unwrap();
    let zip = app_zip("file");
    crate::common::fixtures::publish_image(folder.path(), "acme/app", "1.0", &zip);
    let url = url::Url::from_directory_path(folder.path()).unwrap();
    let mut env = TestEnv::new();
    env.set_env("JUBE_REMOTE_MAVEN_REPOS", format!("{url}@id=shared-folder"));
    let out = pull(&env, "acme/app").success();
    assert_eq!(std::fs::read(pulled_path(&out)).unwrap(), zip);
    assert!(origin_of(&out).contains(">shared-folder="));
    assert!(pulled_path(&out).with_file_name("app-1.0.pom").is_file());

    // A checksum mismatch counts there too.
    std::fs::write(
        folder
            .path()
            .join("io/fabric8/jube/images/acme/app/1.0/app-1.0-image.zip.sha1"),
        "0000000000000000000000000000000000000000",
    )
    .unwrap();
    let env = {
        let mut env = TestEnv::new();
        env.set_env("JUBE_REMOTE_MAVEN_REPOS", format!("{url}@id=shared-folder"));
        env
    };
    pull(&env, "acme/app:1.0")
        .code(1)
        .stderr_contains("checksum mismatch");
    pull(&env, "acme/app:2.0").code(1).stderr_contains("no such file");
    // A folder that does not exist is one warning, like an unreachable server.
    let mut env = TestEnv::new();
    env.set_env("JUBE_REMOTE_MAVEN_REPOS", format!("{url}missing/@id=gone"));
    let out = pull(&env, "acme/app:1.0").code(1);
    assert_eq!(out.stderr.matches("warning:").count(), 1, "{out}");
    out.stderr_contains("does not exist");
}
