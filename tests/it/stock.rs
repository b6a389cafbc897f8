//! The stock images built into jube: fabric8/java (the Java demo) and fabric8/ticker (a POSIX
//! shell worker), started on a fresh JUBE_HOME with an empty local repository and no network.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::build_helpers::{
    self as h, builtin_version, host_port, inspect, stock_image_dir, wait_for_http, zip_names,
};
use crate::common::fixtures::{image_zip, simple_image};
use crate::common::{RepoServer, TestEnv, missing, wait_until};

/// A folder of links to every program on PATH except `java`: a machine without Java.
fn path_without_java(env: &TestEnv) -> PathBuf {
    let bin = env.root().join("bin-without-java");
    std::fs::create_dir_all(&bin).unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let link = bin.join(&name);
            if name == "java" || link.exists() {
                continue;
            }
            let _ = std::os::unix::fs::symlink(entry.path(), link);
        }
    }
    assert!(!bin.join("java").exists());
    bin
}

fn pid_of(env: &TestEnv, id: &str) -> u32 {
    let state = inspect(env, id);
    state["process"]["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no pid in {state:#}")) as u32
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

#[test]
fn java_demo_starts_offline_from_an_empty_local_repository_and_answers_on_its_leased_port() {
    let env = TestEnv::new();
    assert!(!env.local_repo().exists());
    let out = env
        .jube()
        .args(["start", "--offline", "-e", "JAVA_OPTIONS=-Xmx96m", "fabric8/java"])
        .success();
    let id = out.last_line().to_owned();
    // Piped, start says nothing about where the app answers: that is for terminals.
    out.stderr_lacks("answers on");
    let port = host_port(&env, &id, "HTTP");
    let page = wait_for_http(&env, port);
    assert!(page.contains("Hello from jube!"), "{page}");
    assert!(page.contains(&format!("port: {port}")), "{page}");
    assert!(page.contains(&format!("HTTP_PORT={port}")), "{page}");
    let app_base = h::app_base(&env, &id);
    assert!(
        page.contains(&format!("app base: {}", app_base.display())),
        "{page}"
    );
    // JAVA_OPTIONS reaches the JVM, which start.sh recorded in process.pid.
    let pid = pid_of(&env, &id);
    assert!(cmdline(pid).contains("-Xmx96m"), "{}", cmdline(pid));
    assert!(app_base.join("logs/app.log").is_file(), "start.sh logs to logs/");
    env.jube().args(["status", &id]).success();

    env.jube().args(["stop", &id]).success();
    wait_until("the JVM to exit", Duration::from_secs(30), || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    env.jube().args(["status", &id]).code(3);
    assert!(
        !app_base.join("process.pid").exists(),
        "stop.sh removes process.pid"
    );
    env.jube().args(["rm", &id]).success();
    let installed = h::repo_file(
        env.local_repo(),
        "fabric8/java",
        &builtin_version("fabric8/java"),
        &format!("java-{}-image.zip", builtin_version("fabric8/java")),
    );
    assert!(
        installed.is_file(),
        "the built-in image is installed in the local repository"
    );
}

#[test]
fn on_a_terminal_start_says_where_the_app_answers() {
    let env = TestEnv::new();
    let command = format!("{} start fabric8/java", env!("CARGO_BIN_EXE_jube"));
    let out = env
        .command("script")
        .args(["-qec", &command, "/dev/null"])
        .timeout(Duration::from_secs(120))
        .success();
    let url = out
        .stdout
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL on the terminal\n{out}"))
        .trim_end_matches(['/', '.'])
        .to_owned();
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let page = wait_for_http(&env, port);
    assert!(page.contains("Hello from jube!"), "{page}");
    let id = env.jube().args(["ps", "-q"]).success().last_line().to_owned();
    assert_eq!(host_port(&env, &id, "HTTP"), port);
    env.jube().args(["rm", "-f", &id]).success();
}

#[test]
fn java_image_without_java_fails_to_start_and_says_how_to_get_it() {
    let mut env = TestEnv::new();
    let bin = path_without_java(&env);
    env.set_env("PATH", &bin);
    let out = env
        .jube()
        .env_remove("JAVA_HOME")
        .args(["start", "fabric8/java"])
        .failure();
    assert_eq!(out.code, Some(1), "{out}");
    out.stderr_contains("no Java runtime found")
        .stderr_contains("install Java 11 or later")
        .stderr_contains("JAVA_HOME");
    // The failed container is kept for inspection and says why.
    let ps = env.jube().args(["ps", "-a", "--format", "json"]).success();
    let all: serde_json::Value = serde_json::from_str(&ps.stdout).unwrap();
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{ps}");
    // JAVA_HOME pointing at a real JDK is enough, without java on the PATH.
    let java_home = std::process::Command::new("sh")
        .args([
            "-c",
            "dirname \"$(dirname \"$(readlink -f \"$(command -v java)\")\")\"",
        ])
        .output()
        .unwrap();
    let java_home = String::from_utf8(java_home.stdout).unwrap().trim().to_owned();
    let id = env
        .jube()
        .env("JAVA_HOME", &java_home)
        .args(["start", "fabric8/java"])
        .success()
        .last_line()
        .to_owned();
    let page = wait_for_http(&env, host_port(&env, &id, "HTTP"));
    assert!(page.contains("Hello from jube!"), "{page}");
    env.jube().args(["rm", "-f", &id]).success();
}

#[test]
fn ticker_starts_logs_and_stops() {
    let env = TestEnv::new();
    let id = env
        .jube()
        .args(["start", "-e", "TICK_MESSAGE=beat", "fabric8/ticker"])
        .success()
        .last_line()
        .to_owned();
    env.jube().args(["status", &id]).success();
    wait_until("two ticks in the logs", Duration::from_secs(30), || {
        env.logs(&id).contains("beat 2")
    });
    let logs = env.jube().args(["logs", &id]).success();
    logs.stdout_contains("ticker started (every 1s)");
    // The ticker serves nothing, so it holds no port.
    env.jube().args(["port", &id]).success().stdout_lacks("->");
    // The ticker's scripts end all of it: jube finds nothing left running to sweep up.
    env.jube()
        .args(["stop", &id])
        .success()
        .stderr_lacks("left running");
    env.jube().args(["status", &id]).code(3);
    // stop.sh sent TERM, which the ticker's trap answers before it exits.
    env.jube()
        .args(["logs", &id])
        .success()
        .stdout_contains("ticker stopping after");
    env.jube().args(["start", &id]).success();
    wait_until("a tick after the restart", Duration::from_secs(30), || {
        env.logs(&id).matches("beat 1").count() == 2
    });
    env.jube()
        .args(["kill", &id])
        .success()
        .stderr_lacks("left running");
    env.jube().args(["rm", &id]).success();
}

#[test]
fn a_newer_remote_version_wins_over_the_built_in_one_and_an_older_does_not() {
    let mut env = TestEnv::new();
    let server = RepoServer::start();
    let builtin = builtin_version("fabric8/ticker");
    let zip = image_zip(&simple_image());
    server.publish_image("fabric8/ticker", "0.0.1", &zip);
    env.set_env("JUBE_REMOTE_MAVEN_REPOS", server.url());

    let out = env.jube().args(["pull", "fabric8/ticker"]).success();
    out.stdout_contains(&format!("fabric8:ticker:{builtin}:zip:image"));

    server.publish_image("fabric8/ticker", "99.0.0", &zip);
    let out = env.jube().args(["pull", "-U", "fabric8/ticker"]).success();
    out.stdout_contains("fabric8:ticker:99.0.0:zip:image");
    // `start` takes the newest too: the remote image (simple_image, an app that greets).
    let id = env
        .jube()
        .args(["start", "fabric8/ticker"])
        .success()
        .last_line()
        .to_owned();
    let state = inspect(&env, &id);
    assert_eq!(state["coordinates"]["version"], "99.0.0", "{state:#}");
    env.jube().args(["rm", "-f", &id]).success();
    // The built-in version stays available by its tag.
    env.jube()
        .args(["pull", &format!("fabric8/ticker:{builtin}")])
        .success()
        .stdout_contains(&format!(":{builtin}:zip:image"));
}

#[test]
fn an_unreachable_repository_costs_one_warning_and_jube_goes_on_with_the_built_in_image() {
    let mut env = TestEnv::new();
    env.set_env("JUBE_REMOTE_MAVEN_REPOS", "http://127.0.0.1:1/");
    // The timeout only guards against a hang; an unreachable repository is refused at once.
    let out = env
        .jube()
        .args(["start", "fabric8/ticker"])
        .timeout(Duration::from_secs(30))
        .success();
    let id = out.last_line().to_owned();
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{out}");
    assert!(warnings[0].contains("127.0.0.1:1"), "{out}");
    env.jube().args(["status", &id]).success();
    env.jube().args(["rm", "-f", &id]).success();
}

#[test]
fn images_all_lists_the_built_in_images() {
    let env = TestEnv::new();
    let plain = env.jube().args(["images"]).success();
    plain.stdout_lacks("fabric8/java");
    let all = env.jube().args(["images", "--all"]).success();
    for name in ["fabric8/java", "fabric8/ticker"] {
        let line = all
            .stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing\n{all}"));
        assert!(line.contains("built in"), "{line}");
        assert!(line.contains(&builtin_version(name)), "{line}");
    }
    let json = env.jube().args(["images", "--all", "--format", "json"]).success();
    let list: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let java = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["image"] == "fabric8/java")
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(java["builtin"], true);
}

/// The stock image folders follow the image contract completely: `jube build` finds nothing to warn
/// about, and builds the very bytes jube embeds.
#[test]
fn stock_images_build_without_warnings_into_the_embedded_bytes() {
    let env = TestEnv::new();
    for name in ["fabric8/java", "fabric8/ticker"] {
        let version = builtin_version(name);
        let tag = format!("{}-copy:{version}", name);
        let out = env
            .jube()
            .arg("build")
            .arg(stock_image_dir(name))
            .args(["-t", &tag])
            .success();
        out.stderr_lacks("warning");
        let built = std::fs::read(out.last_line()).unwrap();
        let pulled = env.jube().args(["pull", &format!("{name}:{version}")]).success();
        let embedded = std::fs::read(pulled.last_line()).unwrap();
        assert!(
            built == embedded,
            "{name}: jube build and the embedded zip differ"
        );
        let names = zip_names(Path::new(pulled.last_line()));
        for script in ["start", "stop", "kill", "restart", "status", "run", "env"] {
            for ext in ["sh", "bat"] {
                let file = format!("{script}.{ext}");
                assert!(names.contains(&file), "{name} lacks {file}: {names:?}");
            }
        }
        assert!(names.contains(&"ports.properties".to_owned()));
        assert!(names.contains(&"image.properties".to_owned()));
    }
}

#[test]
fn java_image_refuses_a_java_older_than_11() {
    let mut env = TestEnv::new();
    let fake = env.root().join("old-java");
    std::fs::create_dir_all(&fake).unwrap();
    std::fs::write(
        fake.join("java"),
        "#!/bin/sh\necho 'java version \"1.8.0_292\"' >&2\necho 'Java(TM) SE Runtime Environment' >&2\n",
    )
    .unwrap();
    h::set_mode(&fake.join("java"), 0o755);
    let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap_or_default());
    env.set_env("PATH", path);
    let out = env
        .jube()
        .env_remove("JAVA_HOME")
        .args(["start", "fabric8/java"])
        .failure();
    out.stderr_contains("is Java 1.8.0_292, too old")
        .stderr_contains("install Java 11 or later");
}

/// Copies a folder tree (files and folders only).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Compiles `class` (source given) into `jar`, with a Main-Class when `main` is set. `None` without
/// a JDK.
fn compile_jar(dir: &Path, class: &str, source: &str, jar: &Path, main: bool) -> Option<()> {
    let has = |tool: &str| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !has("javac") || !has("jar") {
        return None;
    }
    let src = dir.join(format!("{class}-src"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join(format!("{class}.java")), source).unwrap();
    let ok = |c: &mut std::process::Command| assert!(c.status().unwrap().success(), "{c:?}");
    ok(std::process::Command::new("javac")
        .args(["--release", "11", "-d"])
        .arg(&src)
        .arg(src.join(format!("{class}.java"))));
    let mut jar_cmd = std::process::Command::new("jar");
    jar_cmd
        .arg(if main { "--create" } else { "-c" })
        .arg("--file")
        .arg(jar);
    if main {
        jar_cmd.args(["--main-class", class]);
    }
    ok(jar_cmd.arg("-C").arg(&src).arg(format!("{class}.class")));
    Some(())
}

fn app_source(class: &str) -> String {
    format!(
        "public class {class} {{ public static void main(String[] a) throws Exception {{ \
         System.out.println(\"{class} runs with \" + String.join(\",\", a) + \" on \" + System.getenv(\"HTTP_PORT\")); \
         Thread.sleep(600000); }} }}"
    )
}

/// The Java image runs the user's jar: a single jar in lib/ by its Main-Class, several jars in
/// maven/ by JAVA_MAIN_CLASS (or MAIN), with JAVA_ARGS.
#[test]
fn java_image_runs_the_jars_in_lib_or_maven() {
    let env = TestEnv::new();
    let single = env.root().join("single");
    copy_tree(&stock_image_dir("fabric8/java"), &single);
    std::fs::create_dir_all(single.join("lib")).unwrap();
    let built = compile_jar(
        env.root(),
        "SingleApp",
        &app_source("SingleApp"),
        &single.join("lib/app.jar"),
        true,
    );
    if missing(
        built.is_some(),
        "javac and jar (apt-get install default-jdk-headless)",
    ) {
        return;
    }
    let multi = env.root().join("multi");
    copy_tree(&stock_image_dir("fabric8/java"), &multi);
    std::fs::create_dir_all(multi.join("maven")).unwrap();
    compile_jar(
        env.root(),
        "MultiApp",
        &app_source("MultiApp"),
        &multi.join("maven/a.jar"),
        false,
    );
    compile_jar(
        env.root(),
        "Other",
        &app_source("Other"),
        &multi.join("maven/b.jar"),
        false,
    );
    for (dir, tag) in [(&single, "team/single:1.0"), (&multi, "team/multi:1.0")] {
        env.jube().arg("build").arg(dir).args(["-t", tag]).success();
    }

    let single_id = env
        .jube()
        .args(["start", "-e", "JAVA_ARGS=one two", "team/single:1.0"])
        .success()
        .last_line()
        .to_owned();
    let port = host_port(&env, &single_id, "HTTP");
    wait_until("the single jar's output", Duration::from_secs(60), || {
        env.logs(&single_id)
            .contains(&format!("SingleApp runs with one,two on {port}"))
    });

    let multi_id = env
        .jube()
        .args(["start", "-e", "MAIN=MultiApp", "team/multi:1.0"])
        .success()
        .last_line()
        .to_owned();
    wait_until("the main class's output", Duration::from_secs(60), || {
        env.logs(&multi_id).contains("MultiApp runs with")
    });
    for id in [&single_id, &multi_id] {
        env.jube().args(["rm", "-f", id]).success();
    }
}

/// The stock images' scripts work by hand in an unpacked container folder, without jube: start.sh
/// records the pid, status.sh answers 0 or 3, restart.sh, stop.sh and kill.sh end the app.
#[test]
fn stock_image_scripts_work_by_hand() {
    let env = TestEnv::new();
    let id = env.create_container("fabric8/ticker");
    let base = h::app_base(&env, &id);
    let script = |name: &str| {
        env.command("sh")
            .arg(format!("./{name}.sh"))
            .current_dir(&base)
            .output()
    };
    let pid = || -> u32 {
        std::fs::read_to_string(base.join("process.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let alive = |pid: u32| Path::new(&format!("/proc/{pid}")).exists();
    assert_eq!(script("status").code, Some(3));
    assert_eq!(script("start").code, Some(0));
    let first = pid();
    assert_eq!(script("status").code, Some(0));
    wait_until("a tick in logs/ticker.log", Duration::from_secs(30), || {
        std::fs::read_to_string(base.join("logs/ticker.log")).is_ok_and(|t| t.contains("tick 1"))
    });
    assert_eq!(script("restart").code, Some(0));
    let second = pid();
    assert_ne!(first, second);
    assert_eq!(script("status").code, Some(0));
    assert_eq!(script("stop").code, Some(0));
    assert!(!base.join("process.pid").exists());
    assert_eq!(script("status").code, Some(3));
    assert_eq!(script("start").code, Some(0));
    let third = pid();
    assert_eq!(script("kill").code, Some(0));
    wait_until("the killed ticker to go", Duration::from_secs(10), || {
        !alive(third)
            || std::fs::read_to_string(format!("/proc/{third}/stat")).is_ok_and(|s| s.contains(") Z"))
    });
    assert_eq!(script("status").code, Some(3));
    for p in [first, second] {
        assert!(!alive(p), "pid {p} survived");
    }
    env.jube().args(["rm", "-f", &id]).success();
}

/// The Java image's run.sh execs the JVM: the process jube (or a supervisor) started is the JVM.
#[test]
fn java_run_sh_execs_the_jvm_in_the_foreground() {
    let env = TestEnv::new();
    let id = env.create_container("fabric8/java");
    let base = h::app_base(&env, &id);
    let port = host_port(&env, &id, "HTTP");
    let child = env.command("sh").arg("./run.sh").current_dir(&base).spawn();
    let page = wait_for_http(&env, port);
    assert!(
        page.contains(&format!("pid: {}", child.id())),
        "the JVM is not run.sh's process:\n{page}"
    );
    let out = child.kill();
    assert!(out.stdout.contains("Hello demo listening"), "{out}");
    env.jube().args(["rm", "-f", &id]).success();
}
