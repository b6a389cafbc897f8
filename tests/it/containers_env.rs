//! env.sh: where jube's lines go, that the image's lines stay, and that `-e` / `--env-file`
//! values come back byte for byte when a real shell sources the file.

use std::time::Duration;

use crate::common::fixtures::{self, ZipEntry};
use crate::common::wait_until;
use crate::containers_support::*;

const IMAGE_ENV_SH: &str = "#!/bin/sh\n\
# The app's settings.\n\
setting() { echo \"$1\"; }\n\
PLAIN=not-exported\n\
export GREETING=hello\n\
# after the first export\n\
export LATER=\"${HTTP_PORT:-none}\"\n";

#[test]
fn jube_lines_go_before_the_first_export_and_every_image_line_stays() {
    let images = Images::new();
    let image = images.publish(
        "env/app",
        &with(fixtures::simple_image(), ZipEntry::file("env.sh", IMAGE_ENV_SH)),
    );
    let id = images.create(&image, &["-e", "MODE=test"]);
    let text = std::fs::read_to_string(images.app_base(&id).join("env.sh")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let first_export = lines.iter().position(|l| *l == "export GREETING=hello").unwrap();
    let jube_lines: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("export ") && !IMAGE_ENV_SH.contains(*l))
        .collect();
    let port = host_ports(&images.env, &id)[0];
    let base = images.app_base(&id);
    assert_eq!(
        jube_lines,
        [
            format!("export APP_BASE='{}'", base.display()),
            format!("export HTTP_PORT='{port}'"),
            "export MODE='test'".to_owned(),
        ]
    );
    let last_jube = lines.iter().position(|l| *l == "export MODE='test'").unwrap();
    assert!(
        last_jube < first_export,
        "jube's lines come before the image's first export:\n{text}"
    );
    let image_lines: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| IMAGE_ENV_SH.lines().any(|i| i == *l))
        .collect();
    assert_eq!(
        image_lines,
        IMAGE_ENV_SH.lines().collect::<Vec<_>>(),
        "every image line, in order"
    );
    // The image's own lines see jube's values.
    let out = images
        .env
        .command("bash")
        .args(["-c", ". ./env.sh && echo \"$LATER $PLAIN\""])
        .current_dir(&base)
        .success();
    assert_eq!(out.stdout, format!("{port} not-exported\n"));
}

#[test]
fn an_image_without_env_sh_gets_one_and_env_bat_gets_set_lines() {
    let images = Images::new();
    let image = images.publish(
        "env/bat",
        &with(
            without(fixtures::simple_image(), "env.sh"),
            ZipEntry::file("env.bat", "@echo off\r\nset GREETING=hello\r\n"),
        ),
    );
    let id = images.create(&image, &["-e", "PCT=100%"]);
    let base = images.app_base(&id);
    let sh = std::fs::read_to_string(base.join("env.sh")).unwrap();
    assert!(sh.contains("export PCT='100%'\n"), "{sh}");
    let bat = std::fs::read_to_string(base.join("env.bat")).unwrap();
    assert!(bat.contains("set \"PCT=100%%\"\r\n"), "{bat:?}");
    let set_line = bat.find("set \"PCT").unwrap();
    assert!(set_line < bat.find("set GREETING").unwrap(), "{bat:?}");
    assert!(bat.starts_with("@echo off\r\n"), "{bat:?}");
}

/// Values a shell would mangle unless they are quoted right.
const NASTY: &[(&str, &str)] = &[
    ("DOLLAR", "$HOME and ${PATH} and $(touch pwned-dollar)"),
    ("BACKTICK", "`touch pwned-backtick` done"),
    ("SINGLE", "it's 'quoted'"),
    ("DOUBLE", "say \"hi\""),
    ("BACKSLASH", "C:\\path\\n\\\\end\\"),
    ("NEWLINES", "line one\nline two\n\nlast"),
    ("SPACES", "  padded  "),
    ("EMPTY", ""),
    ("GLOB", "* ? [a-z] ~"),
    ("UNICODE", "grüße → 世界"),
    ("MIXED", "'\"$`\\\n'"),
];

/// Sources env.sh in `shell` and prints each variable followed by a NUL.
fn sourced(images: &Images, id: &str, shell: &str, names: &[&str]) -> Vec<Vec<u8>> {
    let script = names
        .iter()
        .map(|n| format!("printf '%s\\0' \"${n}\""))
        .collect::<Vec<_>>()
        .join("; ");
    let out = std::process::Command::new(shell)
        .args(["-c", &format!(". ./env.sh && {script}")])
        .current_dir(images.app_base(id))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{shell}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut values: Vec<Vec<u8>> = out.stdout.split(|b| *b == 0).map(<[u8]>::to_vec).collect();
    values.pop();
    values
}

#[test]
fn env_values_come_back_byte_exact_from_a_real_shell() {
    let images = Images::new();
    let image = images.publish("env/app", &fixtures::simple_image());
    let mut args: Vec<String> = Vec::new();
    for (name, value) in NASTY {
        args.push("-e".into());
        args.push(format!("{name}={value}"));
    }
    // docker's env-file: the value is everything after the first `=`, taken literally.
    let env_file = images.env.root().join("app.env");
    std::fs::write(
        &env_file,
        "# settings\nFROM_FILE=$HOME 'single' \"double\" \\back `tick` a=b\n\nFILE_EMPTY=\n",
    )
    .unwrap();
    args.push("--env-file".into());
    args.push(env_file.display().to_string());
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let id = images.create(&image, &arg_refs);

    let mut names: Vec<&str> = NASTY.iter().map(|(n, _)| *n).collect();
    names.extend(["FROM_FILE", "FILE_EMPTY", "GREETING"]);
    let mut expected: Vec<Vec<u8>> = NASTY.iter().map(|(_, v)| v.as_bytes().to_vec()).collect();
    expected.push(b"$HOME 'single' \"double\" \\back `tick` a=b".to_vec());
    expected.push(Vec::new());
    expected.push(b"hello".to_vec());
    for shell in ["bash", "sh"] {
        let values = sourced(&images, &id, shell, &names);
        for ((name, want), got) in names.iter().zip(&expected).zip(&values) {
            assert_eq!(
                String::from_utf8_lossy(got),
                String::from_utf8_lossy(want),
                "{name} through {shell}"
            );
        }
        assert_eq!(values.len(), expected.len());
    }
    let base = images.app_base(&id);
    let mut pwned = Vec::new();
    for dir in [base.clone(), images.env.root().to_owned()] {
        pwned.extend(entries(&dir).into_iter().filter(|n| n.starts_with("pwned")));
    }
    assert!(pwned.is_empty(), "a value ran as a command: {pwned:?}");

    // The running app sees the same bytes, from its own environment. The recorded pid runs
    // nohup, then run.sh, which sources env.sh and execs the app: only the app's environment,
    // once it runs, holds the variables.
    images.env.jube().args(["start", &id]).success();
    let pid = images.pid(&id);
    let newlines = format!("NEWLINES={}", NASTY[5].1);
    wait_until(
        &format!("the app's environment to hold {newlines:?}"),
        Duration::from_secs(10),
        || environ_holds(pid, &newlines),
    );
    images.env.jube().args(["rm", "-f", &id]).success();
}

#[test]
fn bad_variable_names_are_refused_and_nothing_is_created() {
    let images = Images::new();
    let image = images.publish("env/app", &fixtures::simple_image());
    for bad in ["1ST=x", "A-B=x", "=x", "WITH SPACE=x", "DOT.NAME=x"] {
        let out = images.env.jube().args(["create", "-e", bad, &image]).code(1);
        out.stderr_contains("is not a valid environment variable name");
        assert_nothing_left(&images.env);
    }
    let env_file = images.env.root().join("bad.env");
    std::fs::write(&env_file, "GOOD=1\nBAD-NAME=2\n").unwrap();
    let out = images
        .env
        .jube()
        .args(["create", "--env-file", env_file.to_str().unwrap(), &image])
        .code(1);
    out.stderr_contains("bad.env").stderr_contains("line 2");
    let out = images
        .env
        .jube()
        .args(["create", "--env-file", "missing.env", &image])
        .code(1);
    out.stderr_contains("missing.env");
    assert_nothing_left(&images.env);
}

#[test]
fn port_names_with_shell_metacharacters_are_carried_and_control_characters_refused() {
    let images = Images::new();
    let ports = "web$(touch${IFS}pwned-dollar)=8080\na`touch${IFS}pwned-tick`=8081\nsemi\\;colon|pipe=8082\nquote'x\"y=8083\n";
    let image = images.publish(
        "ports/meta",
        &with(
            without(fixtures::simple_image(), "ports.properties"),
            ZipEntry::file("ports.properties", ports),
        ),
    );
    let id = images.create(&image, &[]);
    let names = [
        "WEB__TOUCH__IFS_PWNED_DOLLAR__PORT",
        "A_TOUCH__IFS_PWNED_TICK__PORT",
        "SEMI_COLON_PIPE_PORT",
        "QUOTE_X_Y_PORT",
    ];
    let host_ports: Vec<String> = host_ports(&images.env, &id).iter().map(u16::to_string).collect();
    assert_eq!(host_ports.len(), 4);
    for shell in ["sh", "bash"] {
        let values: Vec<String> = sourced(&images, &id, shell, &names)
            .into_iter()
            .map(|v| String::from_utf8(v).unwrap())
            .collect();
        let mut sorted = values.clone();
        sorted.sort();
        let mut want = host_ports.clone();
        want.sort();
        assert_eq!(sorted, want, "{shell}: {names:?} = {values:?}");
    }
    // `jube port` shows each name as the image wrote it, one per line.
    let out = images.env.jube().args(["port", &id]).success();
    for name in [
        "web$(touch${IFS}pwned-dollar) 8080 -> ",
        "a`touch${IFS}pwned-tick` 8081 -> ",
        "semi;colon|pipe 8082 -> ",
        "quote'x\"y 8083 -> ",
    ] {
        out.stdout_contains(name);
    }
    assert_eq!(out.stdout.lines().count(), 4, "{out}");
    let mut pwned = Vec::new();
    for dir in [images.app_base(&id), images.env.root().to_owned()] {
        pwned.extend(entries(&dir).into_iter().filter(|n| n.starts_with("pwned")));
    }
    assert!(pwned.is_empty(), "a port name ran as a command: {pwned:?}");
    images.env.jube().args(["rm", &id]).success();

    // A line break or NUL in a name (escaped in the properties file), or shell in a port
    // number: refused, and nothing is left.
    for (case, ports, needle) in [
        (
            "newline",
            "bad\\nname=8080\n",
            "port name `bad\\nname` holds a control character",
        ),
        ("nul", "bad\\u0000name=8080\n", "holds a control character"),
        (
            "number",
            "HTTP=8080; touch pwned-number\n",
            "is not a port number",
        ),
    ] {
        let image = images.publish(
            &format!("ports/{case}"),
            &with(
                without(fixtures::simple_image(), "ports.properties"),
                ZipEntry::file("ports.properties", ports),
            ),
        );
        let out = images.env.jube().args(["create", &image]).code(1);
        out.stderr_contains(needle).stderr_contains("ports.properties");
        assert_nothing_left(&images.env);
    }
}

#[test]
fn a_variable_name_with_a_line_break_or_a_value_with_nul_is_refused_and_nothing_is_created() {
    let images = Images::new();
    let image = images.publish("env/app", &fixtures::simple_image());
    for bad in ["A\nB=x", "A\rB=x", "NAME\n=x"] {
        let out = images.env.jube().args(["create", "-e", bad, &image]).code(1);
        out.stderr_contains("is not a valid environment variable name");
        assert_nothing_left(&images.env);
    }
    // No argument can hold a NUL; an env file can.
    let env_file = images.env.root().join("nul.env");
    std::fs::write(&env_file, b"GOOD=1\nNULLED=a\0b\n").unwrap();
    let out = images
        .env
        .jube()
        .args(["create", "--env-file", env_file.to_str().unwrap(), &image])
        .code(1);
    out.stderr_contains("NULLED").stderr_contains("NUL byte");
    assert_nothing_left(&images.env);
}
