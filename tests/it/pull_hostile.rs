//! Hostile repositories: versions and snapshot builds in `maven-metadata.xml` that would make a
//! path leave its folder, and bad coordinates on the command line. Each is refused with an error
//! that names the repository and the value, and leaves nothing behind, inside the local
//! repository or outside it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::common::fixtures::{self, IMAGE_GROUP_PREFIX};
use crate::common::{RepoServer, TestEnv};
use crate::pull::{REPO_ID, app_zip, artifact_dir, env_for, pull};

/// Every path below `dir`, relative to it.
fn tree(dir: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            found.insert(path.strip_prefix(dir).unwrap().to_path_buf());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(path);
            }
        }
    }
    found
}

/// What a test may compare before and after: the test's temp folder without the local repository
/// and jube's home, and the names beside the temp folder that carry `marker`.
struct Outside {
    root: PathBuf,
    marker: String,
    before: BTreeSet<PathBuf>,
}

impl Outside {
    fn snapshot(env: &TestEnv, marker: &str) -> Self {
        let root = env.root().to_path_buf();
        let before = Self::listing(env, &root, marker);
        Self {
            root,
            marker: marker.to_owned(),
            before,
        }
    }

    fn listing(env: &TestEnv, root: &Path, marker: &str) -> BTreeSet<PathBuf> {
        let inside = |p: &Path| {
            let full = root.join(p);
            // The local repository, jube's home, and the folders that hold them.
            [env.local_repo(), env.home()]
                .iter()
                .any(|kept| full.starts_with(kept) || kept.starts_with(&full))
        };
        let mut all: BTreeSet<PathBuf> = tree(root).into_iter().filter(|p| !inside(p)).collect();
        // The temp folder's parent is shared with other tests: only names with our marker count.
        let parent = root.parent().unwrap();
        for entry in std::fs::read_dir(parent).unwrap().flatten() {
            if entry.file_name().to_string_lossy().contains(marker) {
                all.insert(PathBuf::from("..").join(entry.file_name()));
            }
        }
        all
    }

    #[track_caller]
    fn assert_unchanged(&self, env: &TestEnv) {
        let after = Self::listing(env, &self.root, &self.marker);
        assert_eq!(
            after, self.before,
            "something was created outside the local repository"
        );
    }
}

/// The local repository holds nothing but the artifact's cached metadata: no folder for the bad
/// version, no partial download.
#[track_caller]
fn assert_only_metadata_cached(env: &TestEnv, image: &str, marker: &str) {
    let artifact = PathBuf::from(artifact_dir(image));
    for p in tree(env.local_repo()) {
        let full = env.local_repo().join(&p);
        assert!(
            !p.to_string_lossy().contains(marker),
            "{} holds the bad value",
            full.display()
        );
        let allowed = artifact.starts_with(&p)
            || p == artifact.join(format!("maven-metadata-{REPO_ID}.xml"))
            || p == artifact.join("1.0-SNAPSHOT")
            || p == artifact
                .join("1.0-SNAPSHOT")
                .join(format!("maven-metadata-{REPO_ID}.xml"));
        assert!(allowed, "{} was left in the local repository", full.display());
    }
}

/// Artifact-level metadata for `acme/app` listing `versions` as given (raw XML text).
fn put_versions(server: &RepoServer, versions: &[&str]) {
    let (group, artifact) = fixtures::image_coords("acme/app");
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n<groupId>{group}</groupId>\n\
         <artifactId>{artifact}</artifactId>\n<versioning>\n<versions>\n"
    );
    for v in versions {
        xml += &format!("<version>{v}</version>\n");
    }
    xml += "</versions>\n<lastUpdated>20240101000000</lastUpdated>\n</versioning>\n</metadata>\n";
    server.put_file(
        &format!("{}/maven-metadata.xml", artifact_dir("acme/app")),
        xml.as_bytes(),
    );
}

/// A marker unique to this test run, so that a folder it names can be found beside the temp folder.
fn marker(env: &TestEnv, what: &str) -> String {
    format!(
        "escaped-{what}-{}",
        env.root().file_name().unwrap().to_string_lossy()
    )
}

/// The first hole: a remote `maven-metadata.xml` listing `../../../../../../../../../elsewhere/x`
/// made `jube pull acme/app` create folders outside the local repository.
#[test]
fn regression_metadata_version_with_dot_dots_creates_no_folder_outside_the_local_repository() {
    let server = RepoServer::start();
    let env = env_for(&server);
    let marker = marker(&env, "dots");
    // Eight `..` lead from the artifact folder to the test's temp folder, nine beside it.
    for depth in [8, 9, 12] {
        let version = format!("{}{marker}/x", "../".repeat(depth));
        put_versions(&server, &[&version]);
        // Where the URL of that version led (a URL drops `..` segments, a local path keeps them),
        // so the download itself succeeded and only the local path was wrong.
        server.put_file(
            &format!(
                "{}/{marker}/x/app-../{marker}/x-image.zip",
                artifact_dir("acme/app")
            ),
            &app_zip("escaped"),
        );
        let outside = Outside::snapshot(&env, &marker);
        let out = pull(&env, "acme/app").arg("-U").output();
        outside.assert_unchanged(&env);
        assert_only_metadata_cached(&env, "acme/app", &marker);
        let out = out.assert_code(1);
        out.stderr_contains(&format!("repository {REPO_ID} ({})", server.url()))
            .stderr_contains(&format!("`{version}`"))
            .stderr_contains("path separator");
        assert!(out.stdout.is_empty(), "{out}");
        assert_eq!(
            server.count("GET", "-image.zip"),
            0,
            "nothing is downloaded for a bad version"
        );
    }
}

#[test]
fn hostile_versions_in_metadata_are_refused_with_the_repository_and_the_value() {
    let server = RepoServer::start();
    let env = env_for(&server);
    let marker = marker(&env, "hostile");
    let too_long = format!("1.{}", "0".repeat(250));
    for (version, shown, says) in [
        ("..".to_owned(), "`..`", "name the folder itself or its parent"),
        (format!("../../{marker}"), "`../../", "path separator `/`"),
        ("/".to_owned(), "`/`", "path separator `/`"),
        (format!("/tmp/{marker}"), "`/tmp/", "path separator `/`"),
        (
            format!("..\\..\\{marker}"),
            "`..\\\\..\\\\",
            "path separator `\\`",
        ),
        ("C:".to_owned(), "`C:`", "`:`"),
        (format!("C:{marker}"), "`C:", "`:`"),
        (too_long.clone(), "`1.000", "252 bytes long"),
        ("1.0.".to_owned(), "`1.0.`", "ends with a dot"),
        ("CON".to_owned(), "`CON`", "device name"),
        ("2.0|x".to_owned(), "`2.0|x`", "Windows does not allow"),
        // XML 1.0 allows no NUL at all, and other control characters only as raw characters
        // (quick-xml also decodes a character reference to one).
        ("1.0\u{1}".to_owned(), "`1.0\\u{1}`", "control character"),
        ("1.0&#1;".to_owned(), "`1.0\\u{1}`", "control character"),
        ("1.0&#10;x".to_owned(), "`1.0\\nx`", "control character"),
    ] {
        put_versions(&server, &[&version]);
        let outside = Outside::snapshot(&env, &marker);
        let out = pull(&env, "acme/app").arg("-U").code(1);
        out.stderr_contains(&format!("repository {REPO_ID} ({})", server.url()))
            .stderr_contains("lists a version that cannot be used")
            .stderr_contains(shown)
            .stderr_contains(says);
        outside.assert_unchanged(&env);
        assert_only_metadata_cached(&env, "acme/app", &marker);
    }
    assert_eq!(server.count("GET", "-image.zip"), 0);
}

/// One bad entry among good versions is skipped with a warning when it is not the version chosen:
/// the newest good version is pulled.
#[test]
fn a_bad_version_that_is_not_chosen_is_skipped_with_a_warning() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "2.0", &app_zip("2.0"));
    let env = env_for(&server);
    let marker = marker(&env, "skipped");
    let bad = format!("1.0/../../../../../../../../{marker}");
    put_versions(&server, &["1.5", &bad, "2.0"]);
    let outside = Outside::snapshot(&env, &marker);
    let out = pull(&env, "acme/app").success();
    out.stdout_contains(&format!("{IMAGE_GROUP_PREFIX}.acme:app:2.0:zip:image"))
        .stderr_contains(&format!("repository {REPO_ID} ({})", server.url()))
        .stderr_contains("lists a version that is skipped")
        .stderr_contains(&bad);
    outside.assert_unchanged(&env);
}

fn snapshot_metadata(versioning: &str) -> String {
    let (group, artifact) = fixtures::image_coords("acme/app");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata modelVersion=\"1.1.0\">\n<groupId>{group}</groupId>\n\
         <artifactId>{artifact}</artifactId>\n<version>1.0-SNAPSHOT</version>\n<versioning>\n{versioning}\n\
         <lastUpdated>20240102030405</lastUpdated>\n</versioning>\n</metadata>\n"
    )
}

/// A snapshot's build comes from the version-level metadata (`<timestamp>`, `<buildNumber>`,
/// `<snapshotVersion><value>`): a bad one is refused like a bad version.
#[test]
fn hostile_snapshot_builds_are_refused() {
    let server = RepoServer::start();
    let env = env_for(&server);
    let marker = marker(&env, "snapshot");
    let rel = format!("{}/1.0-SNAPSHOT/maven-metadata.xml", artifact_dir("acme/app"));
    for (versioning, shown) in [
        (
            format!(
                "<snapshot><timestamp>../../../../../../../../../{marker}</timestamp><buildNumber>1</buildNumber></snapshot>"
            ),
            format!("`1.0-../../../../../../../../../{marker}-1`"),
        ),
        (
            "<snapshot><timestamp>C:</timestamp><buildNumber>1</buildNumber></snapshot>".to_owned(),
            "`1.0-C:-1`".to_owned(),
        ),
        (
            format!(
                "<snapshotVersions><snapshotVersion><classifier>image</classifier><extension>zip</extension>\
                 <value>..\\..\\{marker}</value><updated>20240102030405</updated></snapshotVersion></snapshotVersions>"
            ),
            format!("`..\\\\..\\\\{marker}`"),
        ),
        (
            "<snapshotVersions><snapshotVersion><classifier>image</classifier><extension>zip</extension>\
             <value>..</value><updated>20240102030405</updated></snapshotVersion></snapshotVersions>"
                .to_owned(),
            "`..`".to_owned(),
        ),
        (
            format!(
                "<snapshot><timestamp>{}</timestamp><buildNumber>4294967295</buildNumber></snapshot>",
                "9".repeat(200)
            ),
            "bytes long".to_owned(),
        ),
    ] {
        server.put_file(&rel, snapshot_metadata(&versioning).as_bytes());
        let outside = Outside::snapshot(&env, &marker);
        let out = pull(&env, "acme/app:1.0-SNAPSHOT").arg("-U").code(1);
        out.stderr_contains(&format!("repository {REPO_ID} ({})", server.url()))
            .stderr_contains("lists a snapshot build that cannot be used")
            .stderr_contains(&shown);
        outside.assert_unchanged(&env);
        assert_only_metadata_cached(&env, "acme/app", &marker);
    }
    assert_eq!(server.count("GET", "-image.zip"), 0);
}

/// Coordinates on the command line are checked before anything is asked or written: a usage
/// error, exit 2, that says which part is wrong.
#[test]
fn bad_maven_coordinates_on_the_command_line_exit_2() {
    let server = RepoServer::start();
    let env = env_for(&server);
    for (name, says) in [
        (
            "mvn:com.example/app/1.0/zip/con",
            "the classifier `con` cannot be a file or folder name",
        ),
        ("mvn:com.example/app/1.0/zip/C:", "`:`"),
        ("mvn:com.example/app/../zip", "`..`"),
        ("mvn:com.example/app/1.0./zip", "ends with a dot"),
        ("mvn:com..example/app/1.0", "`..`"),
        ("mvn:com.example/aux/1.0", "device name"),
    ] {
        let out = pull(&env, name).code(2);
        out.stderr_contains("invalid image name").stderr_contains(says);
        assert!(out.stdout.is_empty(), "{out}");
    }
    let long = format!("mvn:com.example/app/{}", "1".repeat(201));
    pull(&env, &long).code(2).stderr_contains("201 bytes long");
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    assert!(!env.local_repo().exists(), "nothing written for a bad name");
    // The grammar, in the order the parser takes it, is in the help.
    env.jube()
        .args(["pull", "--help"])
        .success()
        .stdout_contains("mvn:GROUP/ARTIFACT[/VERSION[/TYPE[/CLASSIFIER]]]")
        .stdout_contains("GROUP:ARTIFACT:VERSION:TYPE[:CLASSIFIER]");
}

/// A repository id names a file (`maven-metadata-<id>.xml`): one that is no valid name is refused.
#[test]
fn a_repository_id_that_is_no_file_name_is_refused() {
    let server = RepoServer::start();
    let mut env = TestEnv::new();
    env.set_env("JUBE_REMOTE_MAVEN_REPOS", format!("{}@id=../../x", server.url()));
    pull(&env, "acme/app")
        .code(1)
        .stderr_contains("the repository id `../../x` cannot be a file or folder name");
    assert!(server.requests().is_empty());
}

/// `RELEASE` against a repository of snapshots only says so, per repository, with what to do;
/// an unreachable repository is listed with the reason.
#[test]
fn release_against_snapshots_only_names_each_repository_and_what_it_had() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0.0-SNAPSHOT", &app_zip("snap"));
    let closed = crate::common::free_port();
    let mut env = TestEnv::new();
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!(
            "{}@id=snaps,{}@id=withsnaps@snapshots,http://127.0.0.1:{closed}/@id=gone",
            server.url(),
            server.url()
        ),
    );
    let (group, _) = fixtures::image_coords("acme/app");
    let out = pull(&env, &format!("mvn:{group}/app/RELEASE/zip/image")).code(1);
    out.stderr_contains(&format!("no version of {group}:app found"))
        .stderr_contains(&format!(
            "{} (snaps): only snapshots: 1.0.0-SNAPSHOT; use LATEST",
            server.url()
        ))
        .stderr_contains("add @snapshots")
        .stderr_contains(&format!(
            "{} (withsnaps): only snapshots: 1.0.0-SNAPSHOT; use LATEST",
            server.url()
        ))
        .stderr_contains(&format!("http://127.0.0.1:{closed}/ (gone): "));
    let gone = out
        .stderr
        .lines()
        .find(|l| l.contains("(gone): "))
        .unwrap()
        .to_owned();
    assert!(
        gone.len() > format!("  http://127.0.0.1:{closed}/ (gone): ").len() + 5,
        "{gone}"
    );
    // As the hint says, LATEST takes the snapshot from the repository that serves snapshots.
    pull(&env, &format!("mvn:{group}/app/LATEST/zip/image"))
        .success()
        .stdout_contains(":app:1.0.0-");
}
