//! Maven version ordering is a total order on any three strings: antisymmetric, transitive, and
//! consistent with `Eq`.
#![no_main]

use std::cmp::Ordering;

use jube::maven::version::MavenVersion;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|texts: (&str, &str, &str)| {
    let (a, b, c) = (
        MavenVersion::parse(texts.0),
        MavenVersion::parse(texts.1),
        MavenVersion::parse(texts.2),
    );
    let pairs = [(&a, &b), (&b, &c), (&a, &c)];
    for (x, y) in pairs {
        let forward = x.cmp(y);
        assert_eq!(forward, y.cmp(x).reverse(), "antisymmetry: {x:?} vs {y:?}");
        assert_eq!(
            x == y,
            forward == Ordering::Equal,
            "Eq agrees with Ord: {x:?} vs {y:?}"
        );
        assert_eq!(x.partial_cmp(y), Some(forward));
    }
    assert_eq!(a.cmp(&a), Ordering::Equal, "reflexive: {a:?}");
    // Transitivity, for every order of the three.
    let all = [&a, &b, &c];
    for x in all {
        for y in all {
            for z in all {
                if x <= y && y <= z {
                    assert!(
                        x <= z,
                        "transitivity: {x:?} <= {y:?} <= {z:?} but not {x:?} <= {z:?}"
                    );
                }
                if x == y && y == z {
                    assert!(x == z, "Eq is transitive: {x:?} {y:?} {z:?}");
                }
            }
        }
    }
    let _ = (a.canonical(), b.canonical(), c.canonical());
});
