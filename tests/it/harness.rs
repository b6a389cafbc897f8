//! Self-tests of the harness: `TestEnv`, `Cmd`, `Child`, and the fixtures (checked against real
//! shells and real Maven).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::common::fixtures::{self, Kind, ZipEntry};
use crate::common::{RepoServer, TestEnv, free_port, wait_until};

/// The message of the panic `f` raises.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    match (payload.downcast_ref::<String>(), payload.downcast_ref::<&str>()) {
        (Some(s), _) => s.clone(),
        (None, Some(s)) => (*s).to_owned(),
        (None, None) => String::from("(not a string)"),
    }
}

fn process_exists(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

#[test]
fn commands_see_the_env_folders_ports_and_no_outside_jube_or_proxy_variables() {
    let mut env = TestEnv::new();
    env.set_env("JUBE_REMOTE_MAVEN_REPOS", "http://first/");
    env.set_env("JUBE_REMOTE_MAVEN_REPOS", "http://127.0.0.1:1/");
    let script = "for v in JUBE_HOME JUBE_LOCAL_REPO JUBE_PORT_START JUBE_PORT_END JUBE_MAVEN_SETTINGS \
                  JUBE_MAVEN_CENTRAL JUBE_TEST_NO_RETRY_DELAY NO_COLOR HOME USERPROFILE \
                  JUBE_REMOTE_MAVEN_REPOS JUBE_LOCK_TIMEOUT JUBE_NEW_THING HTTP_PROXY https_proxy \
                  no_proxy ALL_PROXY; do eval \"echo $v=\\${$v-unset}\"; done; pwd";
    let mut command = std::process::Command::new("sh");
    // Set before apply_env, as if inherited from the developer's shell: apply_env must drop them.
    for leaked in [
        "JUBE_LOCK_TIMEOUT",
        "JUBE_NEW_THING",
        "HTTP_PROXY",
        "https_proxy",
        "no_proxy",
        "ALL_PROXY",
    ] {
        command.env(leaked, "leaked");
    }
    env.apply_env(&mut command);
    let output = command.args(["-c", script]).output().expect("run sh");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let (start, end) = env.port_range();
    let expected = [
        format!("JUBE_HOME={}", env.home().display()),
        format!("JUBE_LOCAL_REPO={}", env.local_repo().display()),
        format!("JUBE_PORT_START={start}"),
        format!("JUBE_PORT_END={end}"),
        format!(
            "JUBE_MAVEN_SETTINGS={}",
            env.root().join("settings.xml").display()
        ),
        "JUBE_MAVEN_CENTRAL=off".to_owned(),
        "JUBE_TEST_NO_RETRY_DELAY=1".to_owned(),
        "NO_COLOR=1".to_owned(),
        format!("HOME={}", env.user_home().display()),
        format!("USERPROFILE={}", env.user_home().display()),
        "JUBE_REMOTE_MAVEN_REPOS=http://127.0.0.1:1/".to_owned(),
        "JUBE_LOCK_TIMEOUT=unset".to_owned(),
        "JUBE_NEW_THING=unset".to_owned(),
        "HTTP_PROXY=unset".to_owned(),
        "https_proxy=unset".to_owned(),
        "no_proxy=unset".to_owned(),
        "ALL_PROXY=unset".to_owned(),
    ];
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[..expected.len()], expected, "{stdout}");

    // Through the builder: the same variables, and the env's root as working directory.
    let out = env.command("sh").args(["-c", script]).success();
    assert_eq!(out.stdout.lines().collect::<Vec<_>>()[..expected.len()], expected);
    assert_eq!(Path::new(out.last_line()), env.root().canonicalize().unwrap());
    assert!(env.user_home().is_dir());
    assert!(!env.home().exists(), "jube creates its home itself");
}

#[test]
fn the_jube_command_runs_the_real_binary() {
    let env = TestEnv::new();
    let out = env.jube().arg("--version").output();
    assert!(out.code.is_some(), "jube did not run to an exit code\n{out}");
    assert!(out.command.contains("target/"), "{}", out.command);
    assert!(Path::new(env!("CARGO_BIN_EXE_jube")).is_file());
}

#[test]
fn write_settings_writes_the_file_jube_is_pointed_at() {
    let env = TestEnv::new();
    let path = env.write_settings("<settings/>");
    assert_eq!(path, env.root().join("settings.xml"));
    let out = env
        .command("sh")
        .args(["-c", "cat \"$JUBE_MAVEN_SETTINGS\""])
        .success();
    assert_eq!(out.stdout, "<settings/>");
}

#[test]
fn port_ranges_are_40_ports_and_disjoint() {
    let envs: Vec<TestEnv> = (0..20).map(|_| TestEnv::new()).collect();
    let mut ranges: Vec<(u16, u16)> = envs.iter().map(TestEnv::port_range).collect();
    for (start, end) in &ranges {
        assert_eq!(end - start + 1, 40);
        assert!(*start >= 1024);
    }
    ranges.sort();
    for pair in ranges.windows(2) {
        assert!(pair[0].1 < pair[1].0, "overlapping port ranges {pair:?}");
    }
}

#[test]
fn cmd_feeds_stdin_and_captures_stdout_and_stderr_apart() {
    let env = TestEnv::new();
    let out = env
        .command("sh")
        .args(["-c", "tr a-z A-Z; echo to-stderr >&2; echo; echo last"])
        .stdin("hello\n")
        .success();
    assert_eq!(out.stdout, "HELLO\n\nlast\n");
    assert_eq!(out.stderr, "to-stderr\n");
    assert_eq!(out.last_line(), "last");
    out.stdout_contains("HELLO")
        .stderr_contains("to-stderr")
        .stdout_lacks("to-stderr");

    let empty = env.command("cat").success();
    assert_eq!(empty.stdout, "", "stdin is empty unless given");
    let message = panic_message(|| {
        empty.last_line();
    });
    assert!(message.contains("expected a line on stdout"), "{message}");
}

#[test]
fn cmd_env_current_dir_and_env_remove() {
    let mut env = TestEnv::new();
    env.set_env("EXTRA", "from-env");
    let dir = env.root().join("sub");
    std::fs::create_dir(&dir).unwrap();
    let out = env
        .command("sh")
        .args(["-c", "echo ${ONE-unset} ${EXTRA-unset}; pwd"])
        .env("ONE", "1")
        .env_remove("EXTRA")
        .current_dir(&dir)
        .success();
    assert_eq!(out.stdout.lines().next(), Some("1 unset"));
    assert_eq!(Path::new(out.last_line()), dir.canonicalize().unwrap());
    assert!(out.command.contains("ONE=1"), "{}", out.command);
}

#[test]
fn exit_code_assertions_pass_and_fail_with_the_whole_story() {
    let env = TestEnv::new();
    let script = "echo some-output; echo some-error >&2; exit 3";
    let out = env.command("sh").args(["-c", script]).code(3);
    assert_eq!(out.code, Some(3));
    env.command("sh").args(["-c", script]).failure();
    env.command("true").success();

    let message = panic_message(|| {
        env.command("sh").args(["-c", script]).success();
    });
    for part in [
        "expected exit code 0",
        "exit code: 3",
        "some-output",
        "some-error",
        "sh -c",
    ] {
        assert!(message.contains(part), "{part:?} missing from:\n{message}");
    }
    let message = panic_message(|| {
        env.command("true").failure();
    });
    assert!(message.contains("expected a non-zero exit code"), "{message}");
    let message = panic_message(|| {
        env.command("true").code(3);
    });
    assert!(message.contains("expected exit code 3"), "{message}");
    let message = panic_message(|| {
        env.command("echo").arg("abc").success().stdout_contains("xyz");
    });
    assert!(
        message.contains("expected stdout to contain \"xyz\""),
        "{message}"
    );
}

#[test]
fn a_timeout_kills_the_whole_process_group_and_fails() {
    let env = TestEnv::new();
    let pid_file = env.root().join("child.pid");
    let script = format!("sleep 30 & echo $! > '{}'; wait", pid_file.display());
    let message = panic_message(|| {
        env.command("sh")
            .args(["-c", &script])
            .timeout(Duration::from_millis(500))
            .output();
    });
    assert!(message.contains("timed out after 500ms"), "{message}");
    let child: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_until(
        "the background sleep to be killed",
        Duration::from_secs(5),
        || !process_exists(child),
    );
}

#[test]
fn a_background_process_holding_the_output_open_fails_the_command() {
    let env = TestEnv::new();
    let message = panic_message(|| {
        env.command("sh").args(["-c", "sleep 30 & echo started"]).output();
    });
    assert!(message.contains("stayed open"), "{message}");
    assert!(
        message.contains("started"),
        "the output so far is shown: {message}"
    );
}

#[test]
fn dropping_the_env_kills_processes_left_in_its_folders() {
    let env = TestEnv::new();
    let pid_file = env.root().join("left.pid");
    let script = format!("sleep 30 >/dev/null 2>&1 & echo $! > '{}'", pid_file.display());
    env.command("sh").args(["-c", &script]).success();
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(process_exists(pid));
    drop(env);
    wait_until("the leftover sleep to be killed", Duration::from_secs(5), || {
        !process_exists(pid)
    });
}

#[test]
fn a_spawned_child_is_watched_signalled_and_waited_for() {
    let env = TestEnv::new();
    let mut child = env
        .command("sh")
        .args([
            "-c",
            "trap 'echo got-term; exit 7' TERM; echo ready; echo err-ready >&2; while :; do sleep 0.05; done",
        ])
        .spawn();
    child.wait_for_stdout("ready", Duration::from_secs(10));
    child.wait_for_stderr("err-ready", Duration::from_secs(10));
    assert!(child.is_running());
    assert_eq!(child.stdout_so_far(), "ready\n");
    child.signal(Signal::SIGTERM);
    let out = child.wait().assert_code(7);
    out.stdout_contains("got-term");

    let child = env.command("sleep").arg("30").spawn();
    child.signal_group(Signal::SIGINT);
    let out = child.wait();
    assert_eq!((out.code, out.signal), (None, Some(Signal::SIGINT as i32)));

    let child = env.command("sleep").arg("30").spawn();
    let pid = child.id() as i32;
    drop(child);
    assert!(!process_exists(pid), "dropping a Child kills and reaps it");

    let mut child = env.command("sh").args(["-c", "echo bye; exit 0"]).spawn();
    let message = panic_message(|| {
        child.wait_for_stdout("never printed", Duration::from_secs(10));
    });
    assert!(message.contains("the process exited"), "{message}");

    let child = env.command("sleep").arg("30").spawn();
    let out = child.kill();
    assert_eq!(out.signal, Some(9));
}

#[test]
fn wait_until_returns_once_true_and_names_what_it_waited_for() {
    let mut calls = 0;
    wait_until("three calls", Duration::from_secs(5), || {
        calls += 1;
        calls == 3
    });
    assert_eq!(calls, 3);
    let message = panic_message(|| wait_until("the impossible", Duration::from_millis(50), || false));
    assert!(message.contains("the impossible"), "{message}");
}

#[test]
fn free_port_can_be_bound() {
    // A free port is one of the shared ephemeral range: a connection another test opens can take
    // it in between, now and then. Three in a row taken means free_port is broken.
    let bound = (0..3).any(|_| std::net::TcpListener::bind(("127.0.0.1", free_port())).is_ok());
    assert!(bound, "none of three free ports could be bound");
}

/// Unpacks a zip with the zip crate alone (not jube's installer), keeping unix modes.
fn unpack(zip: &[u8], into: &Path) {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let path = into.join(entry.enclosed_name().expect("a safe name"));
        if entry.is_dir() {
            std::fs::create_dir_all(&path).unwrap();
            continue;
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut file = std::fs::File::create(&path).unwrap();
        std::io::copy(&mut entry, &mut file).unwrap();
        if let Some(mode) = entry.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o7777)).unwrap();
        }
    }
}

#[test]
fn image_zip_keeps_modes_folders_links_and_raw_names() {
    let entries = vec![
        ZipEntry::script("start.sh", "#!/bin/sh\n"),
        ZipEntry::file("plain.txt", "text").with_mode(0o600),
        ZipEntry::file("default.txt", "d"),
        ZipEntry::dir("lib"),
        ZipEntry::symlink("lib/link", "../plain.txt"),
        ZipEntry::file("../evil", "x"),
        ZipEntry::file("/abs", "y"),
    ];
    let zip = fixtures::image_zip(&entries);
    assert_eq!(
        zip,
        fixtures::image_zip(&entries),
        "the same entries give the same bytes"
    );

    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&zip)).unwrap();
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.expect("a name").into_owned())
        .collect();
    for name in [
        "start.sh",
        "plain.txt",
        "default.txt",
        "lib/",
        "lib/link",
        "../evil",
        "/abs",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} missing from {names:?}");
    }
    let mode = |archive: &mut zip::ZipArchive<_>, name: &str| {
        archive.by_name(name).unwrap().unix_mode().map(|m| m & 0o777)
    };
    assert_eq!(mode(&mut archive, "start.sh"), Some(0o755));
    assert_eq!(mode(&mut archive, "plain.txt"), Some(0o600));
    assert_eq!(mode(&mut archive, "default.txt"), Some(0o644));
    assert!(archive.by_name("lib/").unwrap().is_dir());
    let mut link = archive.by_name("lib/link").unwrap();
    assert!(link.is_symlink());
    let mut target = String::new();
    std::io::Read::read_to_string(&mut link, &mut target).unwrap();
    assert_eq!(target, "../plain.txt");
    drop(link);
    let mut evil = archive.by_name("../evil").unwrap();
    assert!(evil.enclosed_name().is_none(), "a zip-slip name stays unsafe");
    let mut data = String::new();
    std::io::Read::read_to_string(&mut evil, &mut data).unwrap();
    assert_eq!(data, "x");
    assert_eq!(ZipEntry::dir("d").kind, Kind::Dir);
}

#[test]
fn simple_image_starts_reports_stops_and_kills_for_real() {
    let env = TestEnv::new();
    let app = env.root().join("app");
    unpack(&fixtures::image_zip(&fixtures::simple_image()), &app);
    let script = |name: &str| -> PathBuf { app.join(name) };
    std::fs::write(script("env.sh"), {
        let mut text = std::fs::read_to_string(script("env.sh")).unwrap();
        assert!(text.contains("export GREETING=hello") && text.contains('#'));
        text += "export HTTP_PORT='48000'\n";
        text
    })
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(script("ports.properties")).unwrap(),
        "HTTP=8080\n"
    );

    env.command(script("status.sh")).code(3);
    env.command(script("start.sh")).success();
    wait_until("run.sh to write app.env", Duration::from_secs(10), || {
        script("app.env").exists()
    });
    env.command(script("status.sh")).code(0);
    let app_env = std::fs::read_to_string(script("app.env")).unwrap();
    assert!(
        app_env.contains("GREETING=hello") && app_env.contains("HTTP_PORT=48000"),
        "{app_env}"
    );
    let pid: i32 = std::fs::read_to_string(script("process.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(process_exists(pid));

    env.command(script("stop.sh")).success();
    env.command(script("status.sh")).code(3);
    assert!(!process_exists(pid) || is_zombie(pid));
    env.command(script("stop.sh")).success(); // stopping a stopped app is fine

    env.command(script("start.sh")).success();
    env.command(script("status.sh")).code(0);
    let pid: i32 = std::fs::read_to_string(script("process.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    env.command(script("kill.sh")).success();
    env.command(script("status.sh")).code(3);
    wait_until("kill -9 to land", Duration::from_secs(5), || {
        !process_exists(pid) || is_zombie(pid)
    });

    // run.sh in the foreground, ended by Ctrl-C.
    let mut run = env.command(script("run.sh")).spawn();
    run.wait_for_stdout("app running as", Duration::from_secs(10));
    assert!(
        run.stdout_so_far().contains("GREETING=hello"),
        "run.sh sources env.sh"
    );
    run.signal_group(Signal::SIGINT);
    assert_eq!(run.wait().signal, Some(Signal::SIGINT as i32));
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}

#[test]
fn publish_writes_the_maven_layout_checksums_and_metadata() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let zip = fixtures::image_zip(&fixtures::simple_image());
    assert_eq!(
        fixtures::image_coords("fabric8/java"),
        ("io.fabric8.jube.images.fabric8".to_owned(), "java".to_owned())
    );
    assert_eq!(
        fixtures::image_coords("docker.io/x/y").0,
        "io.fabric8.jube.images.x"
    );
    assert_eq!(fixtures::image_coords("solo").0, "io.fabric8.jube.images.library");

    let path = fixtures::publish_image(root, "fabric8/java", "1.0", &zip);
    assert_eq!(
        path,
        fixtures::image_zip_path("io.fabric8.jube.images.fabric8", "java", "1.0")
    );
    let dir = root.join("io/fabric8/jube/images/fabric8/java");
    assert_eq!(std::fs::read(dir.join("1.0/java-1.0-image.zip")).unwrap(), zip);
    let read = |rel: &str| std::fs::read_to_string(dir.join(rel)).unwrap();
    assert_eq!(read("1.0/java-1.0-image.zip.sha1"), fixtures::sha1_hex(&zip));
    assert_eq!(read("1.0/java-1.0-image.zip.md5").len(), 32);
    assert!(read("1.0/java-1.0.pom").contains("<version>1.0</version>"));
    assert_eq!(
        read("1.0/java-1.0.pom.sha1"),
        fixtures::sha1_hex(read("1.0/java-1.0.pom").as_bytes())
    );

    fixtures::publish_image(root, "fabric8/java", "2.0", &zip);
    fixtures::publish_image(root, "fabric8/java", "1.5", &zip);
    fixtures::publish_image(root, "fabric8/java", "1.0", &zip); // again: listed once
    fixtures::publish_image(root, "fabric8/java", "3.0-SNAPSHOT", &zip);
    let metadata = read("maven-metadata.xml");
    let versions: Vec<&str> = metadata
        .lines()
        .filter_map(|l| l.trim().strip_prefix("<version>")?.strip_suffix("</version>"))
        .collect();
    assert_eq!(versions, ["1.0", "2.0", "1.5", "3.0-SNAPSHOT"], "{metadata}");
    assert!(metadata.contains("<latest>3.0-SNAPSHOT</latest>"), "{metadata}");
    assert!(
        metadata.contains("<release>1.0</release>"),
        "the last release published: {metadata}"
    );
    assert!(metadata.contains("<groupId>io.fabric8.jube.images.fabric8</groupId>"));
    assert_eq!(
        read("maven-metadata.xml.sha1"),
        fixtures::sha1_hex(metadata.as_bytes())
    );

    let first = read("3.0-SNAPSHOT/maven-metadata.xml");
    assert!(first.contains("<buildNumber>1</buildNumber>"), "{first}");
    let other_zip = fixtures::image_zip(&[ZipEntry::file("run.sh", "other")]);
    let second_path = fixtures::publish_image(root, "fabric8/java", "3.0-SNAPSHOT", &other_zip);
    let second = read("3.0-SNAPSHOT/maven-metadata.xml");
    assert!(second.contains("<buildNumber>2</buildNumber>"), "{second}");
    let value = second
        .lines()
        .find_map(|l| l.trim().strip_prefix("<value>")?.strip_suffix("</value>"))
        .unwrap();
    assert!(
        value.starts_with("3.0-") && value.ends_with("-2") && value.len() == "3.0-20240102.030405-2".len()
    );
    assert!(
        second_path.ends_with(&format!("java-{value}-image.zip")),
        "{second_path}"
    );
    assert_eq!(std::fs::read(root.join(&second_path)).unwrap(), other_zip);
    assert!(dir.join(format!("3.0-SNAPSHOT/java-{value}.pom.sha1")).is_file());
}

/// Maven itself resolves what `publish` wrote, checksums enforced: the fixtures are a real
/// Maven repository, not just what jube expects.
#[test]
fn maven_resolves_published_releases_and_snapshots() {
    let env = TestEnv::new();
    let server = RepoServer::start();
    let release = fixtures::image_zip(&fixtures::simple_image());
    let snapshot = fixtures::image_zip(&[ZipEntry::file("run.sh", "snapshot build 2")]);
    server.publish_image("fabric8/java", "2.0.3", &release);
    server.publish_image("fabric8/java", "2.1-SNAPSHOT", &release);
    server.publish_image("fabric8/java", "2.1-SNAPSHOT", &snapshot);

    let maven_repo = env.root().join("maven-local");
    let settings = env.root().join("maven-settings.xml");
    let url = server.url();
    std::fs::write(
        &settings,
        format!(
            r#"<settings>
  <localRepository>{}</localRepository>
  <mirrors><mirror><id>deb</id><mirrorOf>*,!bars</mirrorOf><url>file:///usr/share/maven-repo</url></mirror></mirrors>
  <profiles><profile><id>p</id><repositories><repository><id>bars</id><url>{url}</url>
    <releases><checksumPolicy>fail</checksumPolicy></releases>
    <snapshots><enabled>true</enabled><checksumPolicy>fail</checksumPolicy></snapshots>
  </repository></repositories></profile></profiles>
  <activeProfiles><activeProfile>p</activeProfile></activeProfiles>
</settings>
"#,
            maven_repo.display()
        ),
    )
    .unwrap();

    for version in ["2.0.3", "2.1-SNAPSHOT"] {
        env.command("mvn")
            .args(["-q", "-B", "-s", settings.to_str().unwrap()])
            .arg("org.apache.maven.plugins:maven-dependency-plugin:3.5.0:get")
            .arg(format!(
                "-Dartifact=io.fabric8.jube.images.fabric8:java:{version}:zip:image"
            ))
            .arg("-Dtransitive=false")
            .timeout(Duration::from_secs(240))
            .success();
    }
    let dir = maven_repo.join("io/fabric8/jube/images/fabric8/java");
    assert!(std::fs::read(dir.join("2.0.3/java-2.0.3-image.zip")).unwrap() == release);
    assert!(
        std::fs::read(dir.join("2.1-SNAPSHOT/java-2.1-SNAPSHOT-image.zip")).unwrap() == snapshot,
        "Maven took an older snapshot build"
    );
    assert!(
        server.count("GET", "-image.zip.sha1") >= 2,
        "{:?}",
        server.requests()
    );
}
