//! The laws `compare` must keep for sorting and range checks to make sense: reflexive,
//! antisymmetric, transitive; and the same answer (Ok or Err) whichever side a version is on.
//! A failed assertion here is a real ordering bug, not a harness problem.
//!
//! Transitivity is checked where the ecosystem's own tool has it, which is every ecosystem but
//! Maven: maven-artifact's `ComparableVersion` (3.8.7, checked with the Debian jar) has cycles
//! that stella-version reproduces on purpose, e.g. `1--rc1 > 1-foo > 1` but `1--rc1 < 1`, and
//! `!.0.a > 0.0.0 > 0.0.b1` but `!.0.a < 0.0.b1`. For Maven only reflexivity and antisymmetry
//! are checked.
//!
//! Input: one byte picking the ecosystem (`Ecosystem::ALL[byte % 11]`), then three versions
//! separated by newlines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cmp::Ordering;
use stella_version::{Ecosystem, compare};

/// Whether the ecosystem's reference ordering is transitive (see above).
fn transitive(eco: Ecosystem) -> bool {
    eco != Ecosystem::Maven
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let eco = Ecosystem::ALL[selector as usize % Ecosystem::ALL.len()];
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.splitn(3, '\n');
    let a = parts.next().unwrap_or("");
    let b = parts.next().unwrap_or("");
    let c = parts.next().unwrap_or("");

    for v in [a, b, c] {
        if let Ok(o) = compare(eco, v, v) {
            assert_eq!(o, Ordering::Equal, "{eco}: {v:?} is not equal to itself");
        }
    }
    let ab = compare(eco, a, b);
    let ba = compare(eco, b, a);
    assert_eq!(
        ab.is_ok(),
        ba.is_ok(),
        "{eco}: {a:?} vs {b:?}: {ab:?} but reversed {ba:?}"
    );
    let (Ok(ab), Ok(ba)) = (ab, ba) else { return };
    assert_eq!(
        ab,
        ba.reverse(),
        "{eco}: {a:?} vs {b:?} is not antisymmetric"
    );

    if !transitive(eco) {
        return;
    }
    let (Ok(bc), Ok(ac)) = (compare(eco, b, c), compare(eco, a, c)) else {
        return;
    };
    if ab != Ordering::Greater && bc != Ordering::Greater {
        assert_ne!(
            ac,
            Ordering::Greater,
            "{eco}: {a:?} <= {b:?} <= {c:?} but {a:?} > {c:?}"
        );
    }
    if ab != Ordering::Less && bc != Ordering::Less {
        assert_ne!(
            ac,
            Ordering::Less,
            "{eco}: {a:?} >= {b:?} >= {c:?} but {a:?} < {c:?}"
        );
    }
});
