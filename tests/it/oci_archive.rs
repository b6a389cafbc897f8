//! `jube export IMAGE --format oci-archive|docker-archive -o FILE --base ARCHIVE`, checked with
//! skopeo and umoci, and run by runc.

use crate::common::{TestEnv, free_port};
use crate::oci_support::{
    Runc, adapt_umoci_bundle, answer, build_web_image, busybox_base, http_get, image_tools_ready, tool,
};

fn inspect_config(reference: &str) -> serde_json::Value {
    serde_json::from_str(&tool("skopeo", &["inspect", "--config", reference])).unwrap()
}

#[test]
fn an_exported_archive_is_deterministic_reads_in_skopeo_copies_and_runs_from_umoci_under_runc() {
    if !image_tools_ready() {
        return;
    }
    let env = TestEnv::new();
    let (oci_base, docker_base) = busybox_base(&env);
    build_web_image(&env, "team/web:1.0", "HTTP=8080\nADMIN=9090\n");
    let export = |format: &str, name: &str, base: &std::path::Path| {
        let out = env.root().join(name);
        let run = env
            .jube()
            .args(["export", "team/web:1.0", "--format", format, "-o"])
            .arg(&out)
            .arg("--base")
            .arg(base)
            .success();
        (out, run)
    };
    let (first, run) = export("oci-archive", "web.tar", &oci_base);
    let (second, _) = export("oci-archive", "web-again.tar", &oci_base);
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap(),
        "deterministic"
    );
    let oci_ref = format!("oci-archive:{}", first.display());
    let inspected: serde_json::Value = serde_json::from_str(&tool("skopeo", &["inspect", &oci_ref])).unwrap();
    // The manifest digest jube printed is the one skopeo reads.
    assert_eq!(run.stdout.lines().next(), inspected["Digest"].as_str());
    assert_eq!(
        inspected["Layers"].as_array().unwrap().len(),
        2,
        "busybox, then the app"
    );

    let config = inspect_config(&oci_ref);
    assert_eq!(config["created"], "1970-01-01T00:00:00Z");
    assert_eq!(config["os"], "linux");
    assert!(config["architecture"].is_string());
    let c = &config["config"];
    assert_eq!(c["Cmd"], serde_json::json!(["/app/run.sh"]));
    assert_eq!(c["WorkingDir"], "/app");
    assert!(c.get("Entrypoint").is_none_or(|e| e.is_null()));
    assert_eq!(
        c["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}, "9090/tcp": {}})
    );
    // The base's PATH, then the container ports of ports.properties: no host port is leased.
    assert_eq!(
        c["Env"],
        serde_json::json!(["PATH=/bin", "APP_BASE=/app", "HTTP_PORT=8080", "ADMIN_PORT=9090"])
    );
    assert_eq!(
        c["Labels"]["io.fabric8.jube.coordinates"],
        "io.fabric8.jube.images.team:web:1.0:zip:image"
    );
    assert_eq!(c["Labels"]["org.opencontainers.image.version"], "1.0");

    // A docker archive on the docker base: the same config, as skopeo reads it.
    let (docker, _) = export("docker-archive", "web-docker.tar", &docker_base);
    let docker_ref = format!("docker-archive:{}", docker.display());
    let docker_config = inspect_config(&docker_ref);
    assert_eq!(docker_config["config"], config["config"]);

    // skopeo copies between the formats, and into an OCI layout.
    let copied = env.root().join("copied-docker.tar");
    tool(
        "skopeo",
        &[
            "copy",
            &oci_ref,
            &format!("docker-archive:{}:team/web:1.0", copied.display()),
        ],
    );
    let layout = env.root().join("layout");
    tool(
        "skopeo",
        &["copy", &docker_ref, &format!("oci:{}:web", layout.display())],
    );
    let layout2 = env.root().join("layout2");
    tool(
        "skopeo",
        &["copy", &oci_ref, &format!("oci:{}:web", layout2.display())],
    );
    assert_eq!(
        inspect_config(&format!("docker-archive:{}", copied.display()))["config"],
        config["config"]
    );

    // umoci unpacks the layout into a bundle that runc runs.
    let bundle = env.root().join("bundle");
    tool(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:web", layout.display()),
            bundle.to_str().unwrap(),
        ],
    );
    assert!(bundle.join("rootfs/app/run.sh").is_file());
    assert!(bundle.join("rootfs/bin/busybox").is_file());
    let port = free_port();
    adapt_umoci_bundle(&bundle, port);
    let mut runc = Runc::new(&env);
    let id = runc.run_detached(&bundle);
    assert_eq!(answer(port), "hello oci pid 1", "{}", runc.console());
    runc.kill_and_wait(&id, "KILL");
    assert_eq!(http_get(port), None);
}

#[test]
fn export_refuses_a_base_that_is_no_image_archive_and_writes_nothing() {
    let env = TestEnv::new();
    build_web_image(&env, "team/web:1.0", "HTTP=8080\n");
    let bogus = env.root().join("bogus.tar");
    {
        let mut tar = tar::Builder::new(std::fs::File::create(&bogus).unwrap());
        let mut header = tar::Header::new_gnu();
        header.set_size(2);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "hello.txt", &b"hi"[..]).unwrap();
        tar.finish().unwrap();
    }
    let out = env.root().join("out.tar");
    env.jube()
        .args(["export", "team/web:1.0", "--format", "oci-archive", "-o"])
        .arg(&out)
        .arg("--base")
        .arg(&bogus)
        .failure()
        .stderr_contains("is neither an OCI archive (index.json) nor a docker archive (manifest.json)");
    assert!(!out.exists());
    let leftovers = std::fs::read_dir(env.root())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".jube-"))
        .count();
    assert_eq!(leftovers, 0);
}
