//! jube's own files: `JUBE_HOME` private to its owner, the env files and container records
//! private, and the app folder named after its container.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::common::fixtures::{self, ZipEntry};
use crate::containers_support::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn jube_home_is_created_private_and_a_wider_one_is_narrowed() {
    let images = Images::new();
    images.env.jube().args(["ps", "-a"]).success();
    assert_eq!(mode(images.env.home()), 0o700);

    std::fs::set_permissions(images.env.home(), std::fs::Permissions::from_mode(0o755)).unwrap();
    images.env.jube().args(["images"]).success();
    assert_eq!(mode(images.env.home()), 0o700, "narrowed at the next start");
}

#[test]
fn a_jube_home_owned_by_another_user_is_refused_and_left_alone() {
    let images = Images::new();
    std::fs::create_dir_all(images.env.home()).unwrap();
    std::fs::set_permissions(images.env.home(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let other = 65_534; // nobody
    std::os::unix::fs::chown(images.env.home(), Some(other), Some(other)).unwrap();
    assert_eq!(std::fs::metadata(images.env.home()).unwrap().uid(), other);
    let out = images.env.jube().args(["ps"]).code(1);
    out.stderr_contains("belongs to another user (uid 65534")
        .stderr_contains(&images.env.home().display().to_string())
        .stderr_contains("set JUBE_HOME to a folder of your own");
    assert_eq!(mode(images.env.home()), 0o755, "not narrowed: it is not ours");
    assert!(entries(images.env.home()).is_empty(), "nothing written into it");
}

#[test]
fn env_files_and_the_record_are_private_from_their_first_byte() {
    let images = Images::new();
    let image = images.publish(
        "private/app",
        &with(
            fixtures::simple_image(),
            ZipEntry::file("env.bat", "@echo off\r\n").with_mode(0o644),
        ),
    );
    let id = images.create(&image, &["-e", "DB_PASSWORD=hunter2-private"]);
    let base = images.app_base(&id);
    assert_eq!(mode(&base.join("env.sh")), 0o600);
    assert_eq!(mode(&base.join("env.bat")), 0o600);
    assert_eq!(mode(&container_dir(&images.env, &id).join("state.json")), 0o600);
    // Written again on every state change: still private.
    images.env.jube().args(["start", &id]).success();
    images.wait_running(&id);
    assert_eq!(mode(&container_dir(&images.env, &id).join("state.json")), 0o600);
    // The scripts, run as the same user, still source it.
    wait_for_text(&base.join("app.env"), "DB_PASSWORD=hunter2-private");
    images.env.jube().args(["rm", "-f", &id]).success();

    // An image without env.sh gets jube's own, as private.
    let image = images.publish("private/noenv", &without(fixtures::simple_image(), "env.sh"));
    let id = images.create(&image, &[]);
    assert_eq!(mode(&images.app_base(&id).join("env.sh")), 0o600);
}

#[test]
fn regression_every_app_folder_was_called_root_so_every_jolokia_agent_had_the_same_id() {
    let images = Images::new();
    let image = images.publish("agent/app", &fixtures::simple_image());
    let named = images.start_image(&image, &["--name", "orders-1"]);
    let unnamed = images.start_image(&image, &[]);
    for id in [&named, &unnamed] {
        let name = images.state(id)["name"].as_str().unwrap().to_owned();
        let base = images.app_base(id);
        let app_env = base.join("app.env");
        wait_for_text(&app_env, "APP_BASE=");
        let text = std::fs::read_to_string(&app_env).unwrap();
        let app_base = text
            .lines()
            .find_map(|l| l.strip_prefix("APP_BASE="))
            .unwrap_or_else(|| panic!("no APP_BASE in {text}"));
        let basename = Path::new(app_base).file_name().unwrap().to_str().unwrap();
        assert_eq!(basename, name, "APP_BASE={app_base}");
        assert_eq!(Path::new(app_base), container_dir(&images.env, id).join(&name));
        assert_eq!(images.state(id)["app_base"], name.as_str(), "kept in state.json");
    }
    assert_eq!(
        images.state(&named)["name"],
        "orders-1",
        "the name given is the folder's"
    );

    // A name that is one of the container folder's own entries takes the short id instead.
    let clash = images.create(&image, &["--name", "logs"]);
    assert_eq!(
        images.app_base(&clash),
        container_dir(&images.env, &clash).join(&clash[..12])
    );
    assert!(container_dir(&images.env, &clash).join("logs").is_dir());
}

#[test]
fn a_container_made_when_app_folders_were_called_root_keeps_working() {
    let images = Images::new();
    let image = images.publish("legacy/app", &fixtures::simple_image());
    let id = images.create(&image, &["--name", "legacy"]);
    let dir = container_dir(&images.env, &id);
    std::fs::rename(dir.join("legacy"), dir.join("root")).unwrap();
    let state_path = dir.join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    state["app_base"] = "root".into();
    std::fs::write(&state_path, serde_json::to_string_pretty(&state).unwrap()).unwrap();

    images.env.jube().args(["start", &id]).success();
    images.wait_running(&id);
    wait_for_file(&dir.join("root").join("app.env"));
    images.env.jube().args(["status", &id]).success();
    assert_eq!(images.app_base(&id), dir.join("root"));
    images.env.jube().args(["rm", "-f", &id]).success();
    assert!(!dir.exists());
}

#[test]
fn the_object_store_and_the_daemon_log_are_private() {
    let k = crate::kubectl_like::Kube::new();
    let secret = "s3cr3t-in-the-store";
    let file = k.write(
        "secret.yaml",
        &format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n  annotations:\n    note: {secret}\n"
        ),
    );
    k.apply(&file);
    let home = k.env.home();
    for name in ["store.db", "store.db-wal", "daemon.log"] {
        let path = home.join(name);
        assert!(path.exists(), "{} missing", path.display());
        assert_eq!(mode(&path), 0o600, "{name}");
    }
}
