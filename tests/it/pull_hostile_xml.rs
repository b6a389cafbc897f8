//! Hostile repositories: metadata XML built to exhaust memory or the stack or to read local
//! files, metadata too large to be real, and web pages served with 200 in place of files. Each is
//! a clear error, and nothing of it is cached.

use crate::common::{Fault, RepoServer, TestEnv};
use crate::pull::{app_zip, cached_zip, env_for, files_named, pull, pulled_path};

const METADATA: &str = "io/fabric8/jube/images/acme/app/maven-metadata.xml";

fn serving_app() -> RepoServer {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    server
}

/// No metadata copy, zip or temp file of acme/app in the local repository.
#[track_caller]
fn nothing_cached(env: &TestEnv) {
    let dir = env.local_repo().join("io/fabric8/jube/images/acme/app");
    assert!(files_named(&dir, "maven-metadata").is_empty(), "metadata cached");
    assert!(!cached_zip(env, "acme/app", "1.0").exists());
    assert!(files_named(env.local_repo(), ".jube-partial").is_empty());
}

fn billion_laughs() -> String {
    let mut doctype = String::from("<!DOCTYPE metadata [\n<!ENTITY lol0 \"lol\">\n");
    for i in 1..10 {
        let prev = format!("&lol{};", i - 1);
        doctype += &format!("<!ENTITY lol{i} \"{}\">\n", prev.repeat(10));
    }
    doctype += "]>\n";
    format!(
        "<?xml version=\"1.0\"?>\n{doctype}<metadata><groupId>g</groupId><artifactId>app</artifactId>\
         <versioning><versions><version>&lol9;</version></versions></versioning></metadata>\n"
    )
}

fn external_entity() -> String {
    "<?xml version=\"1.0\"?>\n<!DOCTYPE metadata [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n\
     <metadata><groupId>g</groupId><artifactId>app</artifactId><versioning><versions>\
     <version>&xxe;</version></versions></versioning></metadata>\n"
        .to_owned()
}

fn deep_nesting(levels: usize) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<metadata><versioning>{}{}<versions><version>1.0</version></versions>\
         </versioning></metadata>\n",
        "<a>".repeat(levels),
        "</a>".repeat(levels)
    )
}

#[test]
fn hostile_metadata_xml_is_refused_without_expanding_or_fetching_anything() {
    let cases = [
        ("billion laughs", billion_laughs()),
        ("external entity", external_entity()),
    ];
    for (case, xml) in cases {
        let server = serving_app();
        server.put_file(METADATA, xml.as_bytes());
        let env = env_for(&server);
        let out = pull(&env, "acme/app").code(1);
        out.stderr_contains("unreadable metadata at")
            .stderr_contains(&format!("{}{METADATA}", server.url()))
            .stderr_lacks("root:x:0")
            .stderr_lacks("lollol");
        assert!(out.stderr.len() < 10_000, "{case}: a short error\n{out}");
        nothing_cached(&env);
    }
}

#[test]
fn deeply_nested_metadata_neither_overflows_the_stack_nor_stops_the_pull() {
    let server = serving_app();
    server.put_file(METADATA, deep_nesting(100_000).as_bytes());
    let env = env_for(&server);
    // Unknown elements are skipped without recursion (a stack overflow would end jube by a
    // signal): the versions after them are read.
    let out = pull(&env, "acme/app").success();
    assert_eq!(std::fs::read(pulled_path(&out)).unwrap(), app_zip("1.0"));
}

#[test]
fn metadata_larger_than_the_cap_is_refused_unread() {
    let server = serving_app();
    // Well-formed: a 50 MB comment inside real metadata.
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<!--");
    xml += &"x".repeat(50 << 20);
    xml += "-->\n<metadata><groupId>io.fabric8.jube.images.acme</groupId><artifactId>app</artifactId>\
            <versioning><versions><version>1.0</version></versions></versioning></metadata>\n";
    server.put_file(METADATA, xml.as_bytes());
    let env = env_for(&server);
    let out = pull(&env, "acme/app").code(1);
    out.stderr_contains("larger than the 8 MiB allowed for metadata");
    nothing_cached(&env);
    // A server that announces no length is cut off at the cap all the same.
    server.set_fault(
        Some("maven-metadata.xml"),
        Fault::Serve {
            content_type: "application/xml",
            body: xml.into_bytes(),
        },
    );
    let out = pull(&env, "acme/app").code(1);
    out.stderr_contains("larger than the 8 MiB allowed for metadata");
    nothing_cached(&env);
}

const LOGIN_PAGE: &str =
    "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please sign in</body></html>\n";

#[test]
fn an_html_page_served_with_200_is_named_as_such_and_never_kept() {
    // In place of the zip.
    let server = serving_app();
    server.set_fault(
        Some("-image.zip"),
        Fault::Serve {
            content_type: "text/html; charset=utf-8",
            body: LOGIN_PAGE.into(),
        },
    );
    let env = env_for(&server);
    let out = pull(&env, "acme/app:1.0").code(1);
    out.stderr_contains("the server returned an HTML page (Content-Type text/html; charset=utf-8)");
    nothing_cached(&env);

    // In place of the metadata, declared as HTML or as XML.
    for content_type in ["text/html", "application/xml"] {
        let server = serving_app();
        server.set_fault(
            Some("maven-metadata.xml"),
            Fault::Serve {
                content_type,
                body: LOGIN_PAGE.into(),
            },
        );
        let env = env_for(&server);
        let out = pull(&env, "acme/app").code(1);
        out.stderr_contains("the server returned an HTML page");
        nothing_cached(&env);
    }

    // In place of the pom, which is only kept beside the zip when the repository has one.
    let server = serving_app();
    server.set_fault(
        Some(".pom"),
        Fault::Serve {
            content_type: "text/html",
            body: LOGIN_PAGE.into(),
        },
    );
    let env = env_for(&server);
    let out = pull(&env, "acme/app:1.0").success();
    let dir = pulled_path(&out).parent().unwrap().to_owned();
    assert!(
        files_named(&dir, "app-1.0.pom").is_empty(),
        "the page is not kept as the pom"
    );
}
