//! OSV range evaluation, safe for version orders that are not total.
//!
//! The OSV schema evaluates a range by sorting its events and walking them: an `introduced`
//! at or below the version sets "vulnerable", a `fixed` at or below it or a `last_affected`
//! below it clears it, and the last event that applies wins. Sorting is exactly what must not
//! be done here: Maven's ordering is not transitive, and `sort_by` with an inconsistent
//! comparator may panic. The walk's result is, for a total order, the kind of the *greatest
//! applicable event*, so that is what is computed, with one linear pass that keeps the
//! greatest applicable event seen so far (on equal versions a closing event beats an
//! `introduced`, so `introduced X, fixed X` is empty). For a total order this is the spec's
//! answer; for a broken one it is still an answer, deterministic in upstream order, and no
//! comparison can panic.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use stella_model::{Affected, AffectedRange, Comparison, FixState, RangeEvent, RangeKind};
use stella_version::{Ecosystem, compare};

use crate::family::Family;

/// How two versions of one range order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Order {
    /// The ecosystem's own ordering (OSV `ECOSYSTEM` ranges, distro trackers).
    Eco(Ecosystem),
    /// SemVer 2.0 precedence (OSV `SEMVER` ranges), with a leading `v` tolerated.
    SemVer,
}

impl Order {
    /// `None` when either side is not a valid version of the ordering.
    pub(crate) fn cmp(self, a: &str, b: &str) -> Option<Ordering> {
        match self {
            Order::Eco(eco) => compare(eco, a, b).ok(),
            Order::SemVer => compare(Ecosystem::Npm, strip_v(a), strip_v(b)).ok(),
        }
    }
}

fn strip_v(s: &str) -> &str {
    s.strip_prefix('v').unwrap_or(s)
}

/// A comparison for the evidence.
pub(crate) fn comparison(installed: &str, op: &str, bound: &str, holds: bool) -> Comparison {
    Comparison {
        installed: installed.to_string(),
        op: op.to_string(),
        bound: bound.to_string(),
        holds,
    }
}

/// One affected entry (or tracker state) that contains the installed version.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub(crate) method: &'static str,
    pub(crate) fix_state: FixState,
    pub(crate) fixed: Vec<String>,
    pub(crate) ranges: Vec<String>,
    pub(crate) comparisons: Vec<Comparison>,
}

/// What one record says about one installed package.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    Affected(Hit),
    /// The record was evaluated and does not contain the version (or says the release is
    /// not affected, or not a security problem).
    NotAffected,
    /// The record could not be evaluated (an invalid version or bound): it says nothing.
    Undecided,
}

/// A version that failed to parse; the range then says nothing.
#[derive(Debug)]
pub(crate) struct Invalid;

/// The range's verdict for a version that is inside it.
#[derive(Debug, PartialEq)]
pub(crate) struct RangeHit {
    /// `fixed` events above the installed version, in upstream order.
    pub(crate) fixed: Vec<String>,
    pub(crate) comparisons: Vec<Comparison>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Introduced,
    Fixed,
    LastAffected,
}

/// `0` stands for "before every version" (OSV's `introduced: "0"`); it is not a valid version
/// in most orderings, so it never reaches them.
fn is_zero(v: &str) -> bool {
    v == "0"
}

fn cmp_bounds(order: Order, a: &str, b: &str) -> Result<Ordering, Invalid> {
    match (is_zero(a), is_zero(b)) {
        (true, true) => Ok(Ordering::Equal),
        (true, false) => Ok(Ordering::Less),
        (false, true) => Ok(Ordering::Greater),
        (false, false) => order.cmp(a, b).ok_or(Invalid),
    }
}

/// Evaluates one `ECOSYSTEM` or `SEMVER` range (see the module documentation).
pub(crate) fn eval_range(
    order: Order,
    v: &str,
    range: &AffectedRange,
) -> Result<Option<RangeHit>, Invalid> {
    // `installed op bound`, with `0` below everything.
    let cmp_v = |bound: &str| -> Result<Ordering, Invalid> {
        if is_zero(bound) {
            Ok(Ordering::Greater)
        } else {
            order.cmp(v, bound).ok_or(Invalid)
        }
    };
    let mut comparisons = Vec::new();

    // BeforeLimits: with no limit an implicit `*` applies.
    let mut has_limit = false;
    let mut before_limit = None;
    for e in &range.events {
        if let RangeEvent::Limit(l) = e {
            has_limit = true;
            if l == "*" || cmp_v(l)? == Ordering::Less {
                before_limit = Some(l.as_str());
                break;
            }
        }
    }
    if has_limit {
        match before_limit {
            Some(l) => comparisons.push(comparison(v, "<", l, true)),
            None => return Ok(None),
        }
    }

    let mut events: Vec<(Kind, &str, bool)> = Vec::with_capacity(range.events.len());
    for e in &range.events {
        let (kind, bound) = match e {
            RangeEvent::Introduced(b) => (Kind::Introduced, b.as_str()),
            RangeEvent::Fixed(b) => (Kind::Fixed, b.as_str()),
            RangeEvent::LastAffected(b) => (Kind::LastAffected, b.as_str()),
            RangeEvent::Limit(_) => continue,
        };
        let ord = cmp_v(bound)?;
        let applies = match kind {
            Kind::Introduced | Kind::Fixed => ord != Ordering::Less,
            Kind::LastAffected => ord == Ordering::Greater,
        };
        events.push((kind, bound, applies));
    }

    // The greatest applicable event decides.
    let mut best: Option<usize> = None;
    for (i, &(kind, bound, applies)) in events.iter().enumerate() {
        if !applies {
            continue;
        }
        let replace = match best {
            None => true,
            Some(b) => match cmp_bounds(order, bound, events[b].1)? {
                Ordering::Greater => true,
                Ordering::Equal => kind != Kind::Introduced,
                Ordering::Less => false,
            },
        };
        if replace {
            best = Some(i);
        }
    }
    let Some(b) = best else { return Ok(None) };
    let (kind, introduced, _) = events[b];
    if kind != Kind::Introduced {
        return Ok(None);
    }
    comparisons.push(comparison(v, ">=", introduced, true));

    // The closing event that bounds the interval: the lowest one that does not apply.
    let mut next: Option<usize> = None;
    for (i, &(kind, bound, applies)) in events.iter().enumerate() {
        if applies || kind == Kind::Introduced {
            continue;
        }
        let replace = match next {
            None => true,
            Some(n) => cmp_bounds(order, bound, events[n].1)? == Ordering::Less,
        };
        if replace {
            next = Some(i);
        }
    }
    if let Some(n) = next {
        let (kind, bound, _) = events[n];
        let op = if kind == Kind::Fixed { "<" } else { "<=" };
        comparisons.push(comparison(v, op, bound, true));
    }
    let mut fixed: Vec<String> = Vec::new();
    for &(kind, bound, applies) in &events {
        if kind == Kind::Fixed && !applies && !fixed.iter().any(|f| f == bound) {
            fixed.push(bound.to_string());
        }
    }
    Ok(Some(RangeHit { fixed, comparisons }))
}

/// A range written out for the evidence: `ECOSYSTEM: introduced 0, fixed 2.0.1`.
pub(crate) fn describe_range(range: &AffectedRange) -> String {
    let kind = match range.kind {
        RangeKind::Ecosystem => "ECOSYSTEM",
        RangeKind::Semver => "SEMVER",
        RangeKind::Git => "GIT",
    };
    let events: Vec<String> = range
        .events
        .iter()
        .map(|e| {
            let name = match e {
                RangeEvent::Introduced(_) => "introduced",
                RangeEvent::Fixed(_) => "fixed",
                RangeEvent::LastAffected(_) => "last_affected",
                RangeEvent::Limit(_) => "limit",
            };
            format!("{name} {}", e.version())
        })
        .collect();
    format!("{kind}: {}", events.join(", "))
}

/// An affected entry's `versions` list, indexed: osv.dev enumerates every affected release
/// there, so lists run to thousands of entries (TensorFlow's hundreds of records each list
/// hundreds), and parsing each entry for every installed package would dominate matching.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListedVersions {
    exact: HashSet<String>,
    /// Entries by their leading number (see [`lead_key`]).
    by_lead: HashMap<String, Vec<usize>>,
    /// Entries without a leading number, or with an epoch: always compared.
    unkeyed: Vec<usize>,
}

/// The leading number of a version without a `v` and leading zeros (`v01.2` → `1`). Two
/// versions whose leading numbers differ are unequal in every ordering here, except when an
/// epoch (`1:`, `1!`) comes first, which gives `None`, as does a version with no leading number.
fn lead_key(s: &str) -> Option<&str> {
    if s.bytes().any(|b| b == b':' || b == b'!') {
        return None;
    }
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    (n > 0).then(|| s[..n].trim_start_matches('0'))
}

impl ListedVersions {
    pub(crate) fn new(versions: &[String]) -> ListedVersions {
        let mut listed = ListedVersions::default();
        for (i, v) in versions.iter().enumerate() {
            listed.exact.insert(v.clone());
            match lead_key(v) {
                Some(k) => listed.by_lead.entry(k.to_string()).or_default().push(i),
                None => listed.unkeyed.push(i),
            }
        }
        listed
    }

    /// The entry equal to `installed` (string-equal, or equal under the ordering).
    pub(crate) fn find<'a>(
        &self,
        versions: &'a [String],
        order: Order,
        installed: &str,
    ) -> Option<&'a String> {
        if versions.is_empty() {
            return None;
        }
        if self.exact.contains(installed) {
            return versions.iter().find(|v| *v == installed);
        }
        let equal = |&i: &usize| order.cmp(installed, &versions[i]) == Some(Ordering::Equal);
        let found = match lead_key(installed) {
            Some(k) => self
                .by_lead
                .get(k)
                .into_iter()
                .flatten()
                .chain(self.unkeyed.iter())
                .copied()
                .filter(|i| equal(i))
                .min(),
            None => (0..versions.len()).find(|i| equal(i)),
        };
        found.map(|i| &versions[i])
    }
}

/// Evaluates an OSV-shaped affected entry: every `ECOSYSTEM`/`SEMVER` range, then the
/// `versions` list. `GIT` ranges are skipped (their commits say nothing about a package
/// version; osv.dev enumerates the versions they cover into `versions`).
pub(crate) fn eval_affected(
    aff: &Affected,
    listed: &ListedVersions,
    family: Family,
    installed: &str,
) -> Verdict {
    let base = Order::Eco(family.ordering());
    let mut hit: Option<Hit> = None;
    let mut evaluated = false;
    let mut invalid = false;
    for range in &aff.ranges {
        let order = match range.kind {
            RangeKind::Git => continue,
            RangeKind::Ecosystem => base,
            // Go's ordering is SemVer with Go's `v` prefix and `+incompatible`.
            RangeKind::Semver if family == Family::Go => base,
            RangeKind::Semver => Order::SemVer,
        };
        match eval_range(order, installed, range) {
            Ok(Some(rh)) => {
                let h = hit.get_or_insert_with(|| Hit {
                    method: "osv-range",
                    fix_state: FixState::NotFixed,
                    fixed: Vec::new(),
                    ranges: Vec::new(),
                    comparisons: Vec::new(),
                });
                h.ranges.push(describe_range(range));
                h.comparisons.extend(rh.comparisons);
                for f in rh.fixed {
                    if !h.fixed.contains(&f) {
                        h.fixed.push(f);
                    }
                }
            }
            Ok(None) => evaluated = true,
            Err(Invalid) => invalid = true,
        }
    }
    if hit.is_none()
        && let Some(listed) = listed.find(&aff.versions, base, installed)
    {
        hit = Some(Hit {
            method: "osv-versions",
            fix_state: FixState::NotFixed,
            fixed: Vec::new(),
            ranges: vec![format!("versions: {listed}")],
            comparisons: vec![comparison(installed, "==", listed, true)],
        });
    }
    match hit {
        Some(mut h) => {
            if !h.fixed.is_empty() {
                h.fix_state = FixState::Fixed;
            }
            Verdict::Affected(h)
        }
        None if invalid => Verdict::Undecided,
        None if evaluated || !aff.versions.is_empty() => Verdict::NotAffected,
        None => Verdict::Undecided,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeEvent::{Fixed, Introduced, LastAffected, Limit};

    fn range(kind: RangeKind, events: Vec<RangeEvent>) -> AffectedRange {
        AffectedRange {
            kind,
            events,
            repo: None,
        }
    }

    fn s(v: &str) -> String {
        v.to_string()
    }

    fn affected(order: Order, v: &str, r: &AffectedRange) -> Option<bool> {
        eval_range(order, v, r).ok().map(|h| h.is_some())
    }

    #[test]
    fn spec_examples_evaluate_as_the_osv_pseudo_code() {
        let semver = Order::SemVer;
        // "every possible version is affected"
        let all = range(RangeKind::Semver, vec![Introduced(s("0"))]);
        // "everything before 1.0.2"
        let before = range(
            RangeKind::Semver,
            vec![Introduced(s("0")), Fixed(s("1.0.2"))],
        );
        // "[1.0.0, 1.0.2) or [3.0.0, 3.2.5)"
        let multi = range(
            RangeKind::Semver,
            vec![
                Introduced(s("1.0.0")),
                Fixed(s("1.0.2")),
                Introduced(s("3.0.0")),
                Fixed(s("3.2.5")),
            ],
        );
        // "up to and including 2.1.214"
        let last = range(
            RangeKind::Semver,
            vec![Introduced(s("0")), LastAffected(s("2.1.214"))],
        );
        let table: &[(&AffectedRange, &str, bool)] = &[
            (&all, "0.0.1", true),
            (&all, "99.0.0", true),
            (&before, "1.0.1", true),
            (&before, "1.0.2", false),
            (&before, "1.0.2-rc.1", true),
            (&before, "2.0.0", false),
            (&multi, "0.9.0", false),
            (&multi, "1.0.0", true),
            (&multi, "1.0.1", true),
            (&multi, "1.0.2", false),
            (&multi, "2.5.0", false),
            (&multi, "3.0.0", true),
            (&multi, "3.2.4", true),
            (&multi, "3.2.5", false),
            (&multi, "4.0.0", false),
            (&last, "2.1.214", true),
            (&last, "2.1.215", false),
            (&last, "v1.0.0", true),
        ];
        for (r, v, want) in table {
            assert_eq!(affected(semver, v, r), Some(*want), "{v} in {r:?}");
        }
    }

    #[test]
    fn events_out_of_order_give_the_sorted_answer() {
        let shuffled = range(
            RangeKind::Semver,
            vec![
                Fixed(s("3.2.5")),
                Introduced(s("1.0.0")),
                Introduced(s("3.0.0")),
                Fixed(s("1.0.2")),
            ],
        );
        for (v, want) in [
            ("1.0.1", true),
            ("2.0.0", false),
            ("3.1.0", true),
            ("3.2.5", false),
        ] {
            assert_eq!(affected(Order::SemVer, v, &shuffled), Some(want), "{v}");
        }
    }

    #[test]
    fn limit_bounds_the_range_from_above() {
        let limited = range(
            RangeKind::Ecosystem,
            vec![Introduced(s("1.0")), Limit(s("2.0"))],
        );
        let pypi = Order::Eco(Ecosystem::PyPI);
        assert_eq!(affected(pypi, "0.9", &limited), Some(false));
        assert_eq!(affected(pypi, "1.5", &limited), Some(true));
        assert_eq!(affected(pypi, "2.0", &limited), Some(false));
        // Several limits: below any of them is enough.
        let two = range(
            RangeKind::Ecosystem,
            vec![Introduced(s("0")), Limit(s("1.0")), Limit(s("3.0"))],
        );
        assert_eq!(affected(pypi, "2.0", &two), Some(true));
        assert_eq!(affected(pypi, "3.0", &two), Some(false));
        let hit = eval_range(pypi, "1.5", &limited).unwrap().unwrap();
        assert_eq!(
            hit.comparisons,
            vec![
                comparison("1.5", "<", "2.0", true),
                comparison("1.5", ">=", "1.0", true)
            ]
        );
    }

    #[test]
    fn equal_introduced_and_fixed_is_an_empty_range() {
        let empty = range(
            RangeKind::Semver,
            vec![Introduced(s("1.0.0")), Fixed(s("1.0.0"))],
        );
        assert_eq!(affected(Order::SemVer, "1.0.0", &empty), Some(false));
    }

    #[test]
    fn invalid_versions_and_bounds_make_the_range_say_nothing() {
        let r = range(
            RangeKind::Semver,
            vec![Introduced(s("0")), Fixed(s("1.0.2"))],
        );
        assert!(eval_range(Order::SemVer, "not-a-version", &r).is_err());
        let bad_bound = range(RangeKind::Semver, vec![Introduced(s("0")), Fixed(s("1.x"))]);
        assert!(eval_range(Order::SemVer, "1.0.0", &bad_bound).is_err());
    }

    #[test]
    fn evidence_names_the_deciding_introduced_and_the_next_fix() {
        let r = range(
            RangeKind::Ecosystem,
            vec![
                Introduced(s("0")),
                Fixed(s("1.0.2")),
                Introduced(s("2.0.0")),
                Fixed(s("2.0.1")),
            ],
        );
        let hit = eval_range(Order::Eco(Ecosystem::Npm), "2.0.0", &r)
            .unwrap()
            .unwrap();
        assert_eq!(
            hit.comparisons,
            vec![
                comparison("2.0.0", ">=", "2.0.0", true),
                comparison("2.0.0", "<", "2.0.1", true)
            ]
        );
        assert_eq!(hit.fixed, vec![s("2.0.1")]);
        let hit = eval_range(Order::Eco(Ecosystem::Npm), "1.0.0", &r)
            .unwrap()
            .unwrap();
        assert_eq!(hit.fixed, vec![s("1.0.2"), s("2.0.1")]);
        assert_eq!(
            describe_range(&r),
            "ECOSYSTEM: introduced 0, fixed 1.0.2, introduced 2.0.0, fixed 2.0.1"
        );
    }

    #[test]
    fn versions_list_matches_equal_versions_and_git_ranges_are_ignored() {
        let aff = Affected {
            ecosystem: s("PyPI"),
            name: s("foo"),
            ranges: vec![range(
                RangeKind::Git,
                vec![Introduced(s("0")), Fixed(s("abc123"))],
            )],
            versions: vec![s("1.0"), s("1.1")],
            ..Default::default()
        };
        assert!(matches!(
            eval_affected(
                &aff,
                &ListedVersions::new(&aff.versions),
                Family::PyPI,
                "1.1.0"
            ),
            Verdict::Affected(Hit {
                method: "osv-versions",
                ..
            })
        ));
        assert!(matches!(
            eval_affected(
                &aff,
                &ListedVersions::new(&aff.versions),
                Family::PyPI,
                "1.2"
            ),
            Verdict::NotAffected
        ));
    }

    #[test]
    fn go_semver_ranges_accept_the_v_prefix() {
        let aff = Affected {
            ecosystem: s("Go"),
            name: s("stdlib"),
            ranges: vec![range(
                RangeKind::Semver,
                vec![
                    Introduced(s("0")),
                    Fixed(s("1.20.12")),
                    Introduced(s("1.21.0-0")),
                    Fixed(s("1.21.5")),
                ],
            )],
            ..Default::default()
        };
        for (v, want) in [
            ("1.21.4", true),
            ("v1.21.4", true),
            ("1.21.5", false),
            ("v1.21.5", false),
            ("1.20.11", true),
            ("1.20.12", false),
        ] {
            let got = matches!(
                eval_affected(&aff, &ListedVersions::default(), Family::Go, v),
                Verdict::Affected(_)
            );
            assert_eq!(got, want, "{v}");
        }
    }

    #[test]
    fn maven_ranges_never_panic_on_odd_versions() {
        let r = range(
            RangeKind::Ecosystem,
            vec![
                Introduced(s("1.0-alpha")),
                Fixed(s("1.0.0.RELEASE")),
                Introduced(s("1-SNAPSHOT")),
                Fixed(s("1.0-sp1")),
                LastAffected(s("1.0.a1")),
            ],
        );
        for v in [
            "1.0",
            "1-alpha",
            "1.0.0.RELEASE",
            "1.0-SP1",
            "abc",
            "1..0",
            "",
        ] {
            let _ = eval_range(Order::Eco(Ecosystem::Maven), v, &r);
        }
    }
}
