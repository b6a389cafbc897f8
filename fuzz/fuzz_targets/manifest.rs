//! Kubernetes manifests: any text (YAML or JSON) gives checked objects or an error.
#![no_main]

use jube::kube::manifest::{self, ManifestSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let mut set = ManifestSet::default();
    if manifest::parse_into("fuzz.yaml", text, &mut set).is_err() {
        return;
    }
    for object in &set.objects {
        assert!(!object.name.is_empty(), "an object without a name: {object:?}");
        let _ = manifest::pod_spec(&object.object, object.kind);
    }
});
