//! Matching: an inventory's installed packages joined with normalized advisories into
//! findings that explain themselves.
//!
//! [`AdvisoryIndex::build`] takes every advisory of a snapshot (with its feed and the hash of
//! its raw observation), the CISA KEV catalog and FIRST EPSS scores, groups the advisories
//! into linksets (ids joined through `aliases`) and keys every affected entry by (ecosystem
//! family, normalized package name), so that [`match_package`] costs one hash lookup per
//! package. [`match_inventory`] matches every package of an [`Inventory`](stella_model::Inventory) and returns the
//! findings sorted. Everything here is pure: no I/O, no clock, no global state; the same index
//! and inventory always give the same findings.
//!
//! # Which advisories speak of which package
//!
//! - **Language packages** match OSV-shaped affected entries (from any feed: OSV, CSAF with a
//!   language purl) of their family: npm → `npm`, Python → `PyPI`, Maven → `Maven`, Go →
//!   `Go`, Cargo → `crates.io`, Gem → `RubyGems`, Composer → `Packagist`, NuGet → `NuGet`
//!   (an ecosystem's `:suffix` is ignored; an entry with no ecosystem but a purl is keyed from
//!   the purl). Names compare PEP 503-normalized for PyPI, lowercased for NuGet and Packagist,
//!   exactly otherwise (npm `@scope/name`, Maven `group:artifact`, Go module paths, Go's
//!   `stdlib` with a `go` prefix dropped from its version). Binaries match only through CPE.
//! - **Debian packages** (distro id `debian`) match by source package name and source
//!   version (the tracker's and DSAs' fixed versions are source versions; the binary version
//!   would misjudge binNMUs) against entries of the `Debian` family whose release — the
//!   tracker state's release, else the ecosystem's (`Debian:12`) — is the image's codename or
//!   major version (either one found from the other for releases 7 to 15). An entry without a
//!   release applies to every release.
//! - **Alpine packages** (distro id `alpine`) match by origin name against the `Alpine` family
//!   whose release is the image's branch (`3.10.4` → `v3.10`); edge and other non-numeric
//!   versions match only entries without a release. Wolfi and Chainguard (distro ids `wolfi`,
//!   `chainguard`) match the `Wolfi`/`Chainguard` families, any release (both are rolling);
//!   `os`, the ecosystem Concelier's secdb parser gives Wolfi's secdb (its `reponame`),
//!   counts as `Wolfi`.
//! - **rpm packages** match by binary name, with the epoch in the version, against
//!   `AlmaLinux:<major>` (distro id `almalinux`) and `Rocky Linux:<major>` (`rocky`) entries;
//!   bug-fix and enhancement advisories (`ALBA`, `ALEA`, `RLBA`, `RLEA`) are not indexed.
//!   Other rpm distributions are not matched yet.
//! - **NVD CPE** matching runs only with [`MatchOptions::cpe`], only for language packages
//!   and binaries (never OS packages: distributions backport fixes, NVD's ranges do not know),
//!   and only for linksets that have no record naming the package in its own ecosystem (CPE is
//!   a fallback, never a second opinion). The criterion's product must equal the package name
//!   (Maven artifact, last part of an npm/Composer/Go name; `-` also tried as `_`), any vendor;
//!   a `target_sw` naming a language ecosystem must be the package's; a criterion for one
//!   `update` is skipped; versions compare with the package ecosystem's ordering, falling back
//!   to a natural numeric-dotted order. Method `nvd-cpe`.
//! - Withdrawn advisories never match. Unknown ecosystems are ignored.
//!
//! # When an entry contains a version
//!
//! OSV ranges follow the schema's evaluation algorithm, without sorting (orders such as
//! Maven's are not transitive, and sorting with them can panic): the greatest *applicable*
//! event decides — an `introduced` at or below the version, a `fixed` at or below it, a
//! `last_affected` below it; on equal versions a closing event wins — which for a total order
//! is the walk over sorted events; a `limit` must be above the version when a range has any.
//! `introduced: "0"` is below every version. `ECOSYSTEM` ranges use the family's ordering
//! (`stella-version`), `SEMVER` ranges SemVer 2.0 precedence with a leading `v` tolerated (Go's
//! own ordering for Go). `GIT` ranges are skipped; the `versions` list matches a version that
//! is string-equal or equal under the ordering. An invalid installed version or bound makes the
//! range say nothing. Fixed versions are the range's `fixed` events above the installed
//! version, deduplicated, in upstream order.
//!
//! Distribution tracker states (Debian tracker, Alpine secdb) decide by themselves: a fixed
//! version `0` or status `not-affected` means never affected; urgency `unimportant` is not a
//! security problem in Debian and is not reported; a fixed version `V` means affected while
//! the installed version is below `V` (so a package at its release's backported fix is not
//! reported), with fix state `fixed`; `resolved` without a version is not reported; otherwise
//! (open, undetermined) affected, fix state `wont-fix` for urgency `end-of-life` or a `no-dsa`
//! mark (postponed, ignored), else `not-fixed`.
//!
//! # One finding per vulnerability and package
//!
//! Every record of one linkset that matches a package gives one [`Finding`](stella_model::Finding): `vulnerability`
//! is the linkset's preferred id (the lowest CVE), `aliases` the others; the evidence lists
//! every matching record (sorted), each matching range and the comparisons that decided it
//! (`1.0.0 >= 0`, `1.0.0 < 2.0.1`), and the methods (`osv-range`, `osv-versions`,
//! `debian-tracker`, `alpine-secdb`, `nvd-cpe`, joined with `+` when several). Records may
//! disagree; the package is reported when any says affected, except that for an OS package
//! the distribution's own feed decides: when its records for the image's release give a
//! verdict and none says affected, the other records of the linkset (OSV `Debian:12` DSAs)
//! are overruled. Fix state is `fixed` when any matching record names a fix, else `wont-fix`
//! when any says so, else `not-fixed`.
//!
//! # Severity
//!
//! `ratings` holds every severity statement of the whole linkset (NVD and CVE 5 records that
//! name no package enrich by CVE id) plus the matching entries' own (`affected[].severity`,
//! Debian urgency), each as a [`Rating`](stella_model::Rating): CVSS methods from the vector
//! prefix (`CVSSv2`, `CVSSv3`, `CVSSv31`, `CVSSv4`), the score computed from the vector
//! ([`cvss::score`], the stated score only when the vector fails), labels as `other` mapped to
//! a severity (`critical`; `high`/`important`; `moderate`/`medium`; `low`;
//! `unimportant`/`negligible`; Debian's `*` suffixes dropped; words naming no severity left
//! out). Sorted by source, method and vector; deduplicated.
//!
//! The finding's `severity` and `severity_source` come from the first of:
//! 1. OS packages: the distribution's label from its matching record (Debian urgency, not
//!    `not yet assigned`). Language packages: the matching records' own CVSS (GHSA, OSV), v3.1,
//!    then v3.0, v4, v2.
//! 2. NVD's CVSS v3.1, v3.0, then v4.
//! 3. Any CVSS v3.x or v4 rating, by source name.
//! 4. CVSS v2: NVD's, then any by source name.
//! 5. A label from a matching record, then any label.
//! 6. Unknown, with an empty source.
//!
//! `kev` is set when any id of the linkset is in the KEV catalog; `epss` is the score of the
//! preferred id if it is a CVE, else of the first CVE of the linkset that has one.

mod distro;
mod family;
mod index;
mod matcher;
mod osv;
mod severity;

pub mod cpe;
pub mod cvss;

pub use index::{AdvisoryIndex, IndexedAdvisory};
pub use matcher::{match_inventory, match_package};

/// What to match besides the ecosystems' own advisories.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchOptions {
    /// NVD CPE matching; off by default, never implied.
    pub cpe: bool,
}
