//! The download progress: a bar with bytes, rate and ETA on a terminal, nothing when piped.

use crate::common::{Fault, RepoServer, missing, runs};
use crate::pull::{big_zip, env_for, pull, pulled_path};

#[test]
fn pull_is_quiet_when_piped() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &big_zip(200_000));
    server.set_fault(
        Some("-image.zip"),
        Fault::Slow {
            bytes_per_sec: 400_000,
        },
    );
    let env = env_for(&server);
    let out = pull(&env, "acme/app:1.0").success();
    pulled_path(&out);
    out.stderr_lacks("ETA")
        .stderr_lacks("/s")
        .stderr_lacks("\u{1b}[")
        .stderr_lacks("\r");
    assert_eq!(
        out.stderr.lines().count(),
        1,
        "one line saying what was downloaded\n{out}"
    );
    out.stdout_lacks("\u{1b}[");
}

/// On a terminal (a pseudo-terminal from `script`), the bar shows bytes, rate and time left.
#[test]
fn pull_shows_bytes_rate_and_eta_on_a_terminal() {
    if missing(
        runs("script", &["--version"]),
        "`script` (apt-get install bsdutils)",
    ) {
        return;
    }
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &big_zip(300_000));
    server.set_fault(
        Some("-image.zip"),
        Fault::Slow {
            bytes_per_sec: 150_000,
        },
    );
    let env = env_for(&server);
    let command = format!("{} pull acme/app:1.0", env!("CARGO_BIN_EXE_jube"));
    let out = env
        .command("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("TERM", "xterm")
        .success();
    out.stdout_contains("app-1.0-image.zip")
        .stdout_contains("ETA")
        .stdout_contains("KiB/s")
        .stdout_contains("KiB/");
}
