//! `jube export IMAGE --bundle DIR`: the bundle the real runc runs.

use crate::common::{TestEnv, free_port};
use crate::oci_support::{Runc, answer, build_web_image, host_binds, http_get, runc_ready};

/// The `process.env` entries of a bundle's config.json.
fn process_env(config: &serde_json::Value) -> Vec<String> {
    config["process"]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn env_value(env: &[String], name: &str) -> Option<String> {
    env.iter()
        .find_map(|e| e.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

#[test]
fn an_exported_bundle_runs_under_runc_answers_on_its_ports_and_stops_with_runc_kill() {
    if !runc_ready() {
        return;
    }
    let env = TestEnv::new();
    build_web_image(&env, "team/web:1.0", "HTTP=8080\nADMIN=9090\n");
    let admin = free_port();
    let bundle = env.root().join("bundle");
    let out = env
        .jube()
        .args(["export", "team/web:1.0", "--bundle"])
        .arg(&bundle)
        .args(host_binds())
        .args(["--port", &format!("ADMIN={admin}")])
        .success();
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    let vars = process_env(&config);
    let http: u16 = env_value(&vars, "HTTP_PORT").unwrap().parse().unwrap();
    let (start, end) = env.port_range();
    assert!(
        (start..=end).contains(&http),
        "{http} is from JUBE_PORT_START..END"
    );
    assert_eq!(env_value(&vars, "ADMIN_PORT"), Some(admin.to_string()));
    assert_eq!(env_value(&vars, "APP_BASE").as_deref(), Some("/app"));
    // Ports as `jube port` prints them, in ports.properties' order, then the bundle.
    assert_eq!(
        out.stdout,
        format!(
            "HTTP 8080 -> {http}\nADMIN 9090 -> {admin}\n{}\n",
            bundle.display()
        )
    );
    assert_eq!(config["process"]["terminal"], false);
    assert_eq!(config["process"]["args"], serde_json::json!(["/app/run.sh"]));
    assert_eq!(config["process"]["cwd"], "/app");
    assert_eq!(config["root"]["readonly"], true);
    assert!(config["linux"].get("resources").is_none(), "no linux.resources");
    assert!(config["linux"].get("uidMappings").is_none());
    let mut namespaces: Vec<&str> = config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    namespaces.sort();
    assert_eq!(
        namespaces,
        ["ipc", "mount", "pid", "uts"],
        "the host's network, no user namespace"
    );
    // /bin is a link on merged-/usr systems: bound at its own path from the folder it names.
    let bin = config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["destination"] == "/bin")
        .unwrap();
    assert_eq!(
        bin["source"].as_str().unwrap(),
        std::fs::canonicalize("/bin").unwrap().to_str().unwrap()
    );
    assert!(bundle.join("rootfs/app/run.sh").is_file());

    let mut runc = Runc::new(&env);
    let id = runc.run_detached(&bundle);
    let body = answer(http);
    // run.sh runs as the container's first process, and wrote its page into the writable /app.
    assert_eq!(body, "hello oci pid 1", "{}", runc.console());
    assert!(bundle.join("rootfs/app/www/index.html").is_file());
    assert_eq!(runc.status(&id).as_deref(), Some("running"));
    runc.kill_and_wait(&id, "KILL");
    assert_eq!(http_get(http), None, "the app is gone");
}

#[test]
fn export_refuses_a_folder_with_files_an_unknown_port_and_a_relative_bind_leaving_nothing() {
    let env = TestEnv::new();
    build_web_image(&env, "team/web:1.0", "HTTP=8080\n");
    let taken = env.root().join("taken");
    std::fs::create_dir(&taken).unwrap();
    std::fs::write(taken.join("keep.txt"), "mine").unwrap();
    env.jube()
        .args(["export", "team/web:1.0", "--bundle"])
        .arg(&taken)
        .failure()
        .stderr_contains("exists and is not empty");
    assert_eq!(std::fs::read_dir(&taken).unwrap().count(), 1);

    let fresh = env.root().join("fresh");
    env.jube()
        .args(["export", "team/web:1.0", "--bundle"])
        .arg(&fresh)
        .args(["--port", "DEBUG=5005"])
        .failure()
        .stderr_contains(
            "--port DEBUG: the image declares no such port in ports.properties (it declares: HTTP)",
        );
    env.jube()
        .args(["export", "team/web:1.0", "--bundle"])
        .arg(&fresh)
        .args(["--bind-host", "usr"])
        .failure()
        .stderr_contains("give an absolute host path");
    assert!(!fresh.exists());
    let leftovers: Vec<_> = std::fs::read_dir(env.root())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".jube-export"))
        .collect();
    assert!(leftovers.is_empty(), "no staging folder is left behind");
}
