//! settings.xml: any text parses or fails with an error; neither the real environment nor the
//! real home folder is read.
#![no_main]

use std::path::Path;

use jube::maven::settings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|xml: &str| {
    let env = |name: &str| (name == "FUZZ").then(|| "value".to_owned());
    let source = Path::new("/fuzz/settings.xml");
    let Ok(parsed) = settings::parse_with(xml, source, &env, Some(Path::new("/fuzz/home"))) else {
        return;
    };
    let _ = parsed.active_repositories();
    let _ = format!("{parsed:?}");
});
