//! The container verbs: create, start, run, stop, kill, restart, status, rm, ps, logs, inspect, port.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};

use super::output::{self, Format};
use super::{EXIT_NOT_RUNNING, PullFlags};
use crate::container::envfile;
use crate::container::install::UnpackLimits;
use crate::container::lifecycle::{
    ContainerError, Containers, CreateOptions, ImageSource, StartOutcome, StopOutcome,
};
use crate::container::logread::Query;
use crate::container::logs;
use crate::container::logsize::LogLimits;
use crate::container::platform;
use crate::container::process::ProcessError;
use crate::container::state::{State, Status};
use crate::layout::Layout;
use crate::registry::Registry;
use crate::reporter::Reporter;

/// `create`'s flags, which `start IMAGE` and `run` take too.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct CreateFlags {
    /// Set a variable: `-e KEY=VALUE`, or `-e KEY` to pass on jube's own value.
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read variables from a file of `KEY=VALUE` lines.
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Use a given host port for a port the image declares: `-p HTTP=8080`.
    #[arg(short = 'p', long = "publish", value_name = "NAME=HOSTPORT")]
    pub publish: Vec<String>,
    /// The container's name (default: a generated one).
    #[arg(long)]
    pub name: Option<String>,
    /// Run the app under runc or crun (Linux, root): its own mount, pid, ipc and uts namespaces,
    /// its folder writable and the rest of the host read-only.
    #[arg(long)]
    pub isolated: bool,
    #[command(flatten)]
    pub pull: PullFlags,
}

impl CreateFlags {
    fn options(&self) -> anyhow::Result<CreateOptions> {
        let mut env = Vec::new();
        for file in &self.env_file {
            let text = fs_err::read_to_string(file)?;
            env.extend(
                envfile::parse_env_file(&text)
                    .with_context(|| format!("in --env-file {}", file.display()))?,
            );
        }
        env.extend(env_flags(&self.env));
        let mut ports = Vec::new();
        for p in &self.publish {
            let Some((name, port)) = p.split_once('=') else {
                bail!("-p {p}: expected NAME=HOSTPORT, for example -p HTTP=8080");
            };
            let port: u16 = port
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .with_context(|| format!("-p {p}: `{port}` is not a port number (1 to 65535)"))?;
            ports.push((name.to_owned(), port));
        }
        // Checked before anything is made: a container that cannot log would not start.
        LogLimits::from_env()?;
        Ok(CreateOptions {
            name: self.name.clone(),
            env,
            ports,
            limits: UnpackLimits::from_env()?,
            isolated: self.isolated,
            ..Default::default()
        })
    }
}

fn containers() -> Containers {
    Containers::new(Layout::from_env())
}

/// Pulls the image if needed and creates a container from it.
fn create_from_image(image: &str, flags: &CreateFlags, reporter: &dyn Reporter) -> anyhow::Result<State> {
    let options = flags.options()?;
    let registry = Registry::from_env()?;
    let reference = registry.parse(image)?;
    let resolved = registry
        .pull(&reference, flags.pull.options(), reporter)
        .with_context(|| format!("cannot get image {image}"))?;
    if let Some(repo) = &resolved.downloaded_from {
        reporter.info(&format!("downloaded {} from {repo}", resolved.coordinates));
    }
    let source = ImageSource {
        name: image.to_owned(),
        coordinates: resolved.coordinates,
        zip: resolved.path,
    };
    containers()
        .create(&source, &options, reporter)
        .with_context(|| format!("cannot create a container from {image}"))
}

pub fn create(image: &str, flags: &CreateFlags, reporter: &dyn Reporter) -> anyhow::Result<i32> {
    let state = create_from_image(image, flags, reporter)?;
    output::print(&format!("{}\n", state.id))?;
    Ok(0)
}

/// `start` takes containers, or an image to create a container from and start.
pub fn start(targets: &[String], flags: &CreateFlags, reporter: &dyn Reporter) -> anyhow::Result<i32> {
    let all = containers();
    let mut failed = false;
    for target in targets {
        let result = match all.find(target) {
            Ok(_) => all
                .start(target)
                .map(|(state, outcome)| (state, outcome, false))
                .map_err(anyhow::Error::from),
            Err(ContainerError::NotFound(_)) => {
                let as_image = create_from_image(target, flags, reporter)
                    .with_context(|| format!("no container is named `{target}`, and as an image"));
                as_image.and_then(|state| {
                    let started = all.start(&state.id).map_err(anyhow::Error::from);
                    started.map(|(s, o)| (s, o, true))
                })
            }
            Err(e) => Err(e.into()),
        };
        match result {
            Ok((state, outcome, created)) => {
                match outcome {
                    StartOutcome::AlreadyRunning => eprintln!("container {} is already running", state.name),
                    StartOutcome::EndedAtOnce => eprintln!(
                        "container {} started, and its app has already ended; `jube logs {}` shows what it said",
                        state.name, state.name
                    ),
                    StartOutcome::Started => announce(&state, reporter),
                }
                output::print(&format!(
                    "{}\n",
                    if created {
                        state.id.as_str()
                    } else {
                        target.as_str()
                    }
                ))?;
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                failed = true;
            }
        }
    }
    Ok(if failed { super::EXIT_FAILURE } else { 0 })
}

/// On a terminal, says where a started app answers.
fn announce(state: &State, reporter: &dyn Reporter) {
    if !std::io::stderr().is_terminal() {
        return;
    }
    for lease in &state.ports {
        let scheme = if lease.name.to_ascii_uppercase().contains("HTTPS") {
            "https"
        } else {
            "http"
        };
        if lease.name.to_ascii_uppercase().contains("HTTP") {
            reporter.info(&format!(
                "{} answers on {scheme}://127.0.0.1:{}",
                state.name, lease.host_port
            ));
        }
    }
}

pub fn run(
    image: &str,
    detach: bool,
    remove: bool,
    flags: &CreateFlags,
    reporter: &dyn Reporter,
) -> anyhow::Result<i32> {
    if detach {
        if remove {
            bail!("--rm cannot be combined with -d: a detached container is removed with `jube rm -f`");
        }
        return start(&[image.to_owned()], flags, reporter);
    }
    let state = create_from_image(image, flags, reporter)?;
    let all = containers();
    let code = all.run_foreground(&state.id);
    if remove {
        all.remove(&state.id, true, true)?;
    }
    Ok(code?)
}

/// `-e KEY=VALUE` as given; `-e KEY` passes on jube's own value, if it has one.
fn env_flags(flags: &[String]) -> Vec<(String, String)> {
    flags
        .iter()
        .filter_map(|e| match e.split_once('=') {
            Some((k, v)) => Some((k.to_owned(), v.to_owned())),
            None => std::env::var(e).ok().map(|v| (e.clone(), v)),
        })
        .collect()
}

/// `jube exec`: exits with the command's code; 127 when there is no such command and 126 when it
/// cannot be run, as docker exec does.
pub fn exec(container: &str, env: &[String], command: &[String]) -> anyhow::Result<i32> {
    let (program, args) = command.split_first().context("give the command to run")?;
    let env = env_flags(env);
    for (k, _) in &env {
        envfile::check_name(k).with_context(|| format!("-e {k}"))?;
    }
    match containers().exec(container, program, args, &env) {
        Ok(code) => Ok(code),
        Err(ContainerError::Process(e @ ProcessError::Exec { .. })) => {
            let missing = matches!(&e, ProcessError::Exec { source, .. } if source.kind() == std::io::ErrorKind::NotFound);
            eprintln!("error: {e}");
            if missing {
                eprintln!("hint: name a file in the container's folder (./status.sh) or a program on PATH");
            }
            Ok(if missing { 127 } else { 126 })
        }
        Err(e) => Err(e.into()),
    }
}

fn each(targets: &[String], mut act: impl FnMut(&str) -> anyhow::Result<()>) -> anyhow::Result<i32> {
    let mut failed = false;
    for t in targets {
        if let Err(e) = act(t) {
            eprintln!("error: {e:#}");
            failed = true;
        }
    }
    Ok(if failed { super::EXIT_FAILURE } else { 0 })
}

pub fn stop(targets: &[String], secs: u64) -> anyhow::Result<i32> {
    let all = containers();
    each(targets, |t| {
        let (state, outcome) = all.stop(t, Duration::from_secs(secs))?;
        report_stop(
            &state,
            outcome,
            &format!("did not stop within {secs}s and was killed"),
        );
        output::print(&format!("{t}\n"))?;
        Ok(())
    })
}

pub fn kill(targets: &[String]) -> anyhow::Result<i32> {
    let all = containers();
    each(targets, |t| {
        let (state, outcome) = all.kill(t)?;
        report_stop(&state, outcome, "");
        output::print(&format!("{t}\n"))?;
        Ok(())
    })
}

/// Says on stderr what a stop or kill did beyond the expected.
fn report_stop(state: &State, outcome: StopOutcome, when_killed: &str) {
    let leftovers = match outcome {
        StopOutcome::NotRunning { leftovers } => {
            eprintln!("container {} is not running", state.name);
            leftovers
        }
        StopOutcome::Stopped { killed, leftovers } => {
            if killed && !when_killed.is_empty() {
                eprintln!("container {} {when_killed}", state.name);
            }
            leftovers
        }
    };
    if leftovers > 0 {
        let s = if leftovers == 1 { "" } else { "es" };
        eprintln!(
            "killed {leftovers} process{s} that container {} had left running",
            state.name
        );
    }
}

pub fn restart(targets: &[String], secs: u64) -> anyhow::Result<i32> {
    let all = containers();
    each(targets, |t| {
        all.restart(t, Duration::from_secs(secs))?;
        output::print(&format!("{t}\n"))?;
        Ok(())
    })
}

pub fn status(target: &str) -> anyhow::Result<i32> {
    let report = containers().status(target)?;
    let s = &report.state;
    let mut line = format!("{}: {}", s.name, s.status);
    if let (Status::Running, Some(p)) = (s.status, s.process) {
        line.push_str(&format!(" (pid {})", p.pid));
    }
    if let Some(code) = report.script_code {
        line.push_str(&format!("; {} exited {code}", platform::script_name("status")));
    }
    output::print(&format!("{line}\n"))?;
    Ok(if s.status == Status::Running {
        0
    } else {
        EXIT_NOT_RUNNING
    })
}

pub fn rm(targets: &[String], force: bool) -> anyhow::Result<i32> {
    let all = containers();
    each(targets, |t| {
        all.remove(t, force, false)?;
        output::print(&format!("{t}\n"))?;
        Ok(())
    })
}

/// `Up 3 minutes`, `Exited (1) 2 minutes ago`, as docker words it.
pub fn status_text(s: &State, now: SystemTime) -> String {
    let since = |t: Option<jiff::Timestamp>| {
        t.and_then(|t| now.duration_since(SystemTime::from(t)).ok())
            .map(output::human_duration)
            .unwrap_or_default()
    };
    match s.status {
        Status::Created => "Created".into(),
        Status::Running => format!("Up {}", since(s.started_at)),
        Status::Exited => match s.exit_code {
            Some(code) => format!("Exited ({code}) {} ago", since(s.finished_at)),
            None => format!("Exited {} ago", since(s.finished_at)),
        },
        Status::Failed => format!("Failed {} ago", since(s.finished_at)),
    }
}

#[derive(serde::Serialize)]
struct PsRow<'a> {
    id: &'a str,
    name: &'a str,
    image: &'a str,
    state: Status,
    status: String,
    pid: Option<u32>,
    ports: &'a [crate::container::ports::Lease],
    created: jiff::Timestamp,
}

pub fn ps(all: bool, quiet: bool, format: Format) -> anyhow::Result<i32> {
    let mut states: Vec<State> = Vec::new();
    for s in containers().list() {
        match s {
            Ok(s) => states.push(s),
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    states.retain(|s| all || s.status == Status::Running);
    states.sort_by_key(|s| std::cmp::Reverse(s.created));
    if quiet {
        let ids: String = states.iter().map(|s| format!("{}\n", s.short_id())).collect();
        output::print(&ids)?;
        return Ok(0);
    }
    let now = SystemTime::now();
    match format {
        Format::Json => {
            let rows: Vec<PsRow> = states
                .iter()
                .map(|s| PsRow {
                    id: &s.id,
                    name: &s.name,
                    image: &s.image,
                    state: s.status,
                    status: status_text(s, now),
                    pid: s.process.filter(|_| s.status == Status::Running).map(|p| p.pid),
                    ports: &s.ports,
                    created: s.created,
                })
                .collect();
            output::print_json(&rows)?;
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = states
                .iter()
                .map(|s| {
                    vec![
                        s.short_id().to_owned(),
                        s.image.clone(),
                        status_text(s, now),
                        s.ports_summary(),
                        s.name.clone(),
                    ]
                })
                .collect();
            output::print(&output::table(
                &["CONTAINER ID", "IMAGE", "STATUS", "PORTS", "NAMES"],
                &rows,
            ))?;
        }
    }
    Ok(0)
}

/// What `jube logs` asks of a container.
pub struct ContainerLogs<'a> {
    pub follow: bool,
    pub tail: Option<usize>,
    pub file: Option<&'a str>,
    pub previous: bool,
    pub timestamps: bool,
    /// Only lines that came at or after this time (Unix nanoseconds).
    pub since: Option<i64>,
}

pub fn logs(target: &str, req: &ContainerLogs<'_>) -> anyhow::Result<i32> {
    let all = containers();
    let state = all.find(target)?;
    let console = all.console_log(&state);
    let app_base = all.app_base(&state);
    if req.previous && !logs::has_previous(&console) {
        bail!(
            "container {} has no previous run's log: it has not been restarted since it first started",
            state.name
        );
    }
    let timed = req.timestamps || req.since.is_some();
    let choose = || logs::choose(&console, &app_base, req.previous, timed, req.file);
    let files = choose().map_err(anyhow::Error::msg)?;
    let query = Query {
        since: req.since,
        tail: req.tail,
        timestamps: req.timestamps,
    };
    let mut out = std::io::stdout().lock();
    let positions = match logs::print(&files, &query, &mut out) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(0),
        other => other?,
    };
    // The previous run has ended: nothing more comes to its log.
    if req.follow && !req.previous {
        let dir = all.layout().container_dir(&state.id);
        let listing = || choose().unwrap_or_default();
        match logs::follow(listing, positions, &mut out, || dir.exists()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other?,
        }
    }
    Ok(0)
}

pub fn inspect(targets: &[String]) -> anyhow::Result<i32> {
    let all = containers();
    let mut found = Vec::new();
    let mut failed = false;
    for t in targets {
        match all.find(t) {
            Ok(mut s) => {
                for (k, v) in &mut s.env {
                    if s.secret_env.contains(k) {
                        *v = "<secret>".to_owned();
                    }
                }
                let mut value = serde_json::to_value(&s)?;
                if let Some(obj) = value.as_object_mut() {
                    obj.insert(
                        "app_base_path".into(),
                        all.app_base(&s).to_string_lossy().into_owned().into(),
                    );
                    obj.insert(
                        "console_log".into(),
                        all.console_log(&s).to_string_lossy().into_owned().into(),
                    );
                }
                found.push(value);
            }
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    output::print_json(&found)?;
    Ok(if failed { super::EXIT_FAILURE } else { 0 })
}

pub fn port(target: &str, name: Option<&str>) -> anyhow::Result<i32> {
    let state = containers().find(target)?;
    let leases: Vec<_> = state
        .ports
        .iter()
        .filter(|l| name.is_none_or(|n| l.name.eq_ignore_ascii_case(n)))
        .collect();
    if let (Some(n), true) = (name, leases.is_empty()) {
        bail!("container {} has no port named {n}", state.name);
    }
    let text: String = leases
        .iter()
        .map(|l| format!("{} {} -> {}\n", l.name, l.container_port, l.host_port))
        .collect();
    output::print(&text)?;
    Ok(0)
}
