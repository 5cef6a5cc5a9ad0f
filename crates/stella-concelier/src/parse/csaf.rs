//! CSAF 2.0 advisories (<https://docs.oasis-open.org/csaf/csaf/v2.0/>), and the 2.1 drafts'
//! `metrics`: one advisory per document, keyed by `/document/tracking/id`.
//!
//! Products are named indirectly: `vulnerabilities[].product_status` lists product ids,
//! which the `product_tree` resolves, through nested `branches`, `full_product_names` and
//! `relationships` (a component "default component of" a platform), to products that may
//! carry a package URL. Only products with a purl become OSV `affected` entries: a fixed
//! product with a version gives a range fixed at that version, a known-affected one an
//! affected version. Entries are grouped per package (the purl without version and
//! qualifiers), so the many architectures of one RPM make one entry.

use super::fields::{
    FieldError, Path, object, opt_array, opt_f64, opt_object, opt_str, opt_string, req_str, string,
};
use super::{Format, ParseError, ParsedRecord, Sink};
use packageurl::PackageUrl;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::str::FromStr;
use stella_model::{
    Advisory, Affected, AffectedRange, FeedSource, Normalized, RangeEvent, RangeKind, SeverityKind,
    SeverityStatement,
};

pub(super) fn parse(
    sink: &mut Sink,
    location: &str,
    format: Format,
    bytes: &[u8],
) -> Result<(), ParseError> {
    super::require_json(FeedSource::Csaf, location, format)?;
    if sink.oversized(location, bytes.len()) {
        return Ok(());
    }
    let document = super::load_value(location, format, bytes, sink.limits())?;
    if !document.get("document").is_some_and(Value::is_object) {
        return Err(ParseError::Shape {
            name: location.to_string(),
            feed: FeedSource::Csaf,
            message: "expected a CSAF advisory object with a `document` object".to_string(),
        });
    }
    match normalize(&document) {
        Ok(advisory) => sink.record(
            location,
            ParsedRecord {
                upstream_id: advisory.id.clone(),
                document,
                normalized: Normalized::Advisory(Box::new(advisory)),
            },
        ),
        Err(e) => sink.error(location, e.to_string()),
    }
    Ok(())
}

/// Product status lists that say something about affected versions; `first_fixed` is read
/// as `fixed`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Fixed,
    KnownAffected,
    FirstAffected,
    LastAffected,
}

const STATUSES: &[(&str, Status)] = &[
    ("fixed", Status::Fixed),
    ("first_fixed", Status::Fixed),
    ("known_affected", Status::KnownAffected),
    ("first_affected", Status::FirstAffected),
    ("last_affected", Status::LastAffected),
];

pub(crate) fn normalize(csaf: &Value) -> Result<Advisory, FieldError> {
    let root = Path::Root;
    let c = object(csaf, root)?;
    let at_doc = root.key("document");
    let doc = opt_object(c, "document", root)?.ok_or_else(|| FieldError::new(at_doc, "missing"))?;
    let at_tracking = at_doc.key("tracking");
    let tracking = opt_object(doc, "tracking", at_doc)?
        .ok_or_else(|| FieldError::new(at_tracking, "missing"))?;
    let id = req_str(tracking, "id", at_tracking)?;
    if id.trim().is_empty() {
        return Err(FieldError::new(at_tracking.key("id"), "empty"));
    }
    let publisher = match opt_object(doc, "publisher", at_doc)? {
        Some(p) => opt_str(p, "name", at_doc.key("publisher"))?,
        None => None,
    }
    .unwrap_or("CSAF publisher")
    .to_string();

    let mut advisory = Advisory {
        id: id.to_string(),
        summary: opt_string(doc, "title", at_doc)?,
        details: details(doc, at_doc)?,
        published: opt_string(tracking, "initial_release_date", at_tracking)?,
        modified: opt_string(tracking, "current_release_date", at_tracking)?,
        ..Advisory::default()
    };
    if let Some(aggregate) = opt_object(doc, "aggregate_severity", at_doc)?
        && let Some(text) = opt_str(aggregate, "text", at_doc.key("aggregate_severity"))?
    {
        advisory.severity.push(SeverityStatement {
            kind: SeverityKind::Label,
            value: text.to_string(),
            score: None,
            source: publisher.clone(),
        });
    }
    advisory.references.extend(references(doc, at_doc)?);

    let products = match opt_object(c, "product_tree", root)? {
        Some(tree) => product_purls(tree, root.key("product_tree"))?,
        None => BTreeMap::new(),
    };

    let at_vulns = root.key("vulnerabilities");
    let vulnerabilities = opt_array(c, "vulnerabilities", root)?;
    let mut cves = Vec::new();
    let mut other_ids = Vec::new();
    // package key → (ecosystem, name, purl, status → versions); BTreeMap for sorted output.
    let mut packages: BTreeMap<String, Package> = BTreeMap::new();
    for (i, v) in vulnerabilities.iter().enumerate() {
        let at = at_vulns.index(i);
        let v = object(v, at)?;
        if let Some(cve) = opt_str(v, "cve", at)? {
            cves.push(cve.to_string());
        }
        let at_ids = at.key("ids");
        for (j, entry) in opt_array(v, "ids", at)?.iter().enumerate() {
            let at = at_ids.index(j);
            let text = req_str(object(entry, at)?, "text", at)?;
            // `ids` also holds tracker numbers (Red Hat Bugzilla `2184059`, Cisco
            // `CSCvi14425`); only ids shaped like vulnerability ids (`GHSA-…`, `XSA-…`)
            // say something a linkset can use.
            if text.starts_with(|c: char| c.is_ascii_alphabetic()) && text.contains('-') {
                other_ids.push(text.to_string());
            }
        }
        advisory.severity.extend(scores(v, at, &publisher)?);
        // CSAF 2.0 has one `cwe`, 2.1 a `cwes` list.
        if let Some(cwe) = opt_object(v, "cwe", at)? {
            advisory.cwes.extend(opt_string(cwe, "id", at.key("cwe"))?);
        }
        let at_cwes = at.key("cwes");
        for (j, cwe) in opt_array(v, "cwes", at)?.iter().enumerate() {
            let at = at_cwes.index(j);
            advisory
                .cwes
                .extend(opt_string(object(cwe, at)?, "id", at)?);
        }
        advisory.references.extend(references(v, at)?);
        if let Some(status) = opt_object(v, "product_status", at)? {
            let at = at.key("product_status");
            for (key, kind) in STATUSES {
                let at_list = at.key(key);
                for (k, product) in opt_array(status, key, at)?.iter().enumerate() {
                    let product_id = string(product, at_list.index(k))?;
                    if let Some(purl) = products.get(product_id) {
                        add_product(&mut packages, purl, *kind);
                    }
                }
            }
        }
    }

    // One vulnerability with a CVE: the advisory is about that CVE. Several: it fixes
    // several vulnerabilities, each its own, so they are only related.
    if vulnerabilities.len() == 1 && cves.len() == 1 {
        advisory.aliases = super::id_list(cves, id);
    } else {
        cves.extend(other_ids);
        advisory.related = super::id_list(cves, id);
    }
    super::dedup_in_order(&mut advisory.cwes);
    super::dedup_in_order(&mut advisory.references);
    let mut seen = Vec::new();
    advisory.severity.retain(|s| {
        let fresh = !seen.contains(s);
        if fresh {
            seen.push(s.clone());
        }
        fresh
    });
    advisory.affected = packages.into_values().map(Package::into_affected).collect();
    Ok(advisory)
}

/// The document note that best summarizes the advisory.
fn details(doc: &Map<String, Value>, at: Path<'_>) -> Result<Option<String>, FieldError> {
    let at_notes = at.key("notes");
    let notes = opt_array(doc, "notes", at)?;
    for wanted in ["summary", "description"] {
        for (i, note) in notes.iter().enumerate() {
            let at = at_notes.index(i);
            let note = object(note, at)?;
            if opt_str(note, "category", at)? == Some(wanted) {
                return opt_string(note, "text", at);
            }
        }
    }
    Ok(None)
}

fn references(m: &Map<String, Value>, at: Path<'_>) -> Result<Vec<String>, FieldError> {
    let at_refs = at.key("references");
    let mut out = Vec::new();
    for (i, r) in opt_array(m, "references", at)?.iter().enumerate() {
        let at = at_refs.index(i);
        if let Some(url) = opt_str(object(r, at)?, "url", at)? {
            out.push(url.to_string());
        }
    }
    Ok(out)
}

/// CVSS of one vulnerability: 2.0's `scores[].cvss_v3/cvss_v2`, 2.1's
/// `metrics[].content.cvss_v4/cvss_v3/cvss_v2`.
fn scores(
    v: &Map<String, Value>,
    at: Path<'_>,
    publisher: &str,
) -> Result<Vec<SeverityStatement>, FieldError> {
    const CVSS: &[(&str, SeverityKind)] = &[
        ("cvss_v4", SeverityKind::CvssV4),
        ("cvss_v3", SeverityKind::CvssV3),
        ("cvss_v2", SeverityKind::CvssV2),
    ];
    let mut holders = Vec::new();
    let at_scores = at.key("scores");
    for (i, s) in opt_array(v, "scores", at)?.iter().enumerate() {
        holders.push((object(s, at_scores.index(i))?, i, "scores"));
    }
    let at_metrics = at.key("metrics");
    for (i, m) in opt_array(v, "metrics", at)?.iter().enumerate() {
        let at = at_metrics.index(i);
        if let Some(content) = opt_object(object(m, at)?, "content", at)? {
            holders.push((content, i, "metrics"));
        }
    }
    let mut out = Vec::new();
    for (holder, i, list) in holders {
        let at_list = at.key(list);
        let at = at_list.index(i);
        for (key, kind) in CVSS {
            let Some(cvss) = opt_object(holder, key, at)? else {
                continue;
            };
            let at = at.key(key);
            let Some(vector) = opt_str(cvss, "vectorString", at)? else {
                continue;
            };
            out.push(SeverityStatement {
                kind: *kind,
                value: vector.to_string(),
                score: opt_f64(cvss, "baseScore", at)?,
                source: publisher.to_string(),
            });
        }
    }
    Ok(out)
}

/// Product id → purl, for every product of the tree that has one (directly, or as the
/// component of a relationship).
fn product_purls(
    tree: &Map<String, Value>,
    at: Path<'_>,
) -> Result<BTreeMap<String, String>, FieldError> {
    let mut purls = BTreeMap::new();
    collect_branches(tree, at, &mut purls)?;
    full_product_names(tree, "full_product_names", at, &mut purls)?;
    let at_rels = at.key("relationships");
    for (i, rel) in opt_array(tree, "relationships", at)?.iter().enumerate() {
        let at = at_rels.index(i);
        let rel = object(rel, at)?;
        let Some(full) = opt_object(rel, "full_product_name", at)? else {
            continue;
        };
        let at_full = at.key("full_product_name");
        let id = req_str(full, "product_id", at_full)?;
        // The relationship's own helper wins; else the component's purl stands for it.
        if let Some(purl) = helper_purl(full, at_full)? {
            purls.insert(id.to_string(), purl.to_string());
        } else if let Some(component) = opt_str(rel, "product_reference", at)?
            && let Some(purl) = purls.get(component).cloned()
        {
            purls.insert(id.to_string(), purl);
        }
    }
    Ok(purls)
}

/// `branches` nest: a vendor holds product families hold products hold versions. JSON
/// nesting is bounded by the parse limits, so the recursion is too.
fn collect_branches(
    node: &Map<String, Value>,
    at: Path<'_>,
    purls: &mut BTreeMap<String, String>,
) -> Result<(), FieldError> {
    let at_branches = at.key("branches");
    for (i, branch) in opt_array(node, "branches", at)?.iter().enumerate() {
        let at = at_branches.index(i);
        let branch = object(branch, at)?;
        if let Some(product) = opt_object(branch, "product", at)? {
            let at = at.key("product");
            let id = req_str(product, "product_id", at)?;
            if let Some(purl) = helper_purl(product, at)? {
                purls.insert(id.to_string(), purl.to_string());
            }
        }
        collect_branches(branch, at, purls)?;
    }
    Ok(())
}

fn full_product_names(
    node: &Map<String, Value>,
    key: &str,
    at: Path<'_>,
    purls: &mut BTreeMap<String, String>,
) -> Result<(), FieldError> {
    let at_list = at.key(key);
    for (i, product) in opt_array(node, key, at)?.iter().enumerate() {
        let at = at_list.index(i);
        let product = object(product, at)?;
        let id = req_str(product, "product_id", at)?;
        if let Some(purl) = helper_purl(product, at)? {
            purls.insert(id.to_string(), purl.to_string());
        }
    }
    Ok(())
}

/// `product_identification_helper.purl` (2.0) or the first of `.purls` (2.1).
fn helper_purl<'v>(
    product: &'v Map<String, Value>,
    at: Path<'_>,
) -> Result<Option<&'v str>, FieldError> {
    let Some(helper) = opt_object(product, "product_identification_helper", at)? else {
        return Ok(None);
    };
    let at = at.key("product_identification_helper");
    if let Some(purl) = opt_str(helper, "purl", at)? {
        return Ok(Some(purl));
    }
    let purls = opt_array(helper, "purls", at)?;
    match purls.first() {
        Some(p) => Ok(Some(string(p, at.key("purls").index(0))?)),
        None => Ok(None),
    }
}

/// What the advisory says about one package.
struct Package {
    ecosystem: String,
    name: String,
    purl: String,
    fixed: Vec<String>,
    known_affected: Vec<String>,
    first_affected: Vec<String>,
    last_affected: Vec<String>,
}

impl Package {
    fn into_affected(self) -> Affected {
        let range = |events| AffectedRange {
            kind: RangeKind::Ecosystem,
            events,
            repo: None,
        };
        let mut ranges = Vec::new();
        // One first-affected with one fixed (or last-affected) version bounds one range;
        // otherwise each bound stands alone from the beginning (or, for a first-affected
        // version, to the end).
        let ends: Vec<RangeEvent> = self
            .fixed
            .iter()
            .map(|v| RangeEvent::Fixed(v.clone()))
            .chain(
                self.last_affected
                    .iter()
                    .map(|v| RangeEvent::LastAffected(v.clone())),
            )
            .collect();
        if let ([first], [end]) = (self.first_affected.as_slice(), ends.as_slice()) {
            ranges.push(range(vec![
                RangeEvent::Introduced(first.clone()),
                end.clone(),
            ]));
        } else {
            for end in ends {
                ranges.push(range(vec![RangeEvent::Introduced("0".into()), end]));
            }
            for first in self.first_affected {
                ranges.push(range(vec![RangeEvent::Introduced(first)]));
            }
        }
        Affected {
            ecosystem: self.ecosystem,
            name: self.name,
            purl: Some(self.purl),
            ranges,
            versions: self.known_affected,
            distro_state: None,
            severity: Vec::new(),
        }
    }
}

fn add_product(packages: &mut BTreeMap<String, Package>, purl: &str, status: Status) {
    let Some(p) = purl_package(purl) else {
        tracing::debug!(purl, "CSAF product purl does not parse; product skipped");
        return;
    };
    let Some(version) = p.version else {
        return;
    };
    let package = packages.entry(p.purl.clone()).or_insert_with(|| Package {
        ecosystem: p.ecosystem,
        name: p.name,
        purl: p.purl,
        fixed: Vec::new(),
        known_affected: Vec::new(),
        first_affected: Vec::new(),
        last_affected: Vec::new(),
    });
    let list = match status {
        Status::Fixed => &mut package.fixed,
        Status::KnownAffected => &mut package.known_affected,
        Status::FirstAffected => &mut package.first_affected,
        Status::LastAffected => &mut package.last_affected,
    };
    if !list.contains(&version) {
        list.push(version);
    }
}

/// A package URL read as an OSV package.
pub(crate) struct PurlPackage {
    /// OSV ecosystem from the purl type (and namespace, for `rpm/redhat` and `deb/ubuntu`).
    pub ecosystem: String,
    /// The name as the ecosystem spells it: `group:artifact` for Maven, `@scope/name` for
    /// npm, `module/path` for Go.
    pub name: String,
    /// The purl without version, qualifiers and subpath: the package, not a build of it.
    pub purl: String,
    /// The version, with an RPM's non-zero epoch in front (`1:2.5.9-111`), since RPM
    /// versions compare with it and purls carry it as a qualifier.
    pub version: Option<String>,
}

pub(crate) fn purl_package(purl: &str) -> Option<PurlPackage> {
    let parsed = PackageUrl::from_str(purl).ok()?;
    let ty = parsed.ty();
    let namespace = parsed.namespace().filter(|n| !n.is_empty());
    let epoch = parsed
        .qualifiers()
        .get("epoch")
        .map(|v| v.to_string())
        .filter(|e| !e.is_empty() && e != "0");
    let version = parsed
        .version()
        .filter(|v| !v.is_empty())
        .map(|v| match (ty, &epoch) {
            ("rpm", Some(epoch)) => format!("{epoch}:{v}"),
            _ => v.to_string(),
        });
    let ecosystem = match (ty, namespace) {
        ("rpm", Some("redhat")) => "Red Hat",
        ("deb", Some("ubuntu")) => "Ubuntu",
        ("deb", _) => "Debian",
        ("apk", _) => "Alpine",
        ("npm", _) => "npm",
        ("pypi", _) => "PyPI",
        ("maven", _) => "Maven",
        ("golang", _) => "Go",
        ("cargo", _) => "crates.io",
        ("gem", _) => "RubyGems",
        ("nuget", _) => "NuGet",
        ("composer", _) => "Packagist",
        (other, _) => other,
    }
    .to_string();
    // OS packages and registries with flat names ignore the namespace (it names the
    // distribution or nothing); the others make it part of the name.
    let name = match (ty, namespace) {
        ("maven", Some(group)) => format!("{group}:{}", parsed.name()),
        ("rpm" | "deb" | "apk" | "pypi" | "cargo" | "gem" | "nuget", _) | (_, None) => {
            parsed.name().to_string()
        }
        (_, Some(ns)) => format!("{ns}/{}", parsed.name()),
    };
    let mut bare = PackageUrl::new(ty.to_string(), parsed.name().to_string()).ok()?;
    if let Some(ns) = namespace {
        bare.with_namespace(ns.to_string()).ok()?;
    }
    Some(PurlPackage {
        ecosystem,
        name,
        purl: bare.to_string(),
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fixed_products_resolve_through_relationships() {
        let csaf = json!({
            "document": {
                "title": "t", "publisher": {"name": "Red Hat Product Security"},
                "aggregate_severity": {"text": "Moderate"},
                "tracking": {"id": "RHSA-2023:7025", "initial_release_date": "2023-11-14T00:00:00Z",
                             "current_release_date": "2024-01-01T00:00:00Z"}
            },
            "product_tree": {
                "branches": [{"category": "vendor", "name": "Red Hat", "branches": [{
                    "category": "product_version", "name": "ruby",
                    "product": {"name": "ruby", "product_id": "ruby-2.5.9-111.x86_64",
                        "product_identification_helper": {"purl": "pkg:rpm/redhat/ruby@2.5.9-111?arch=x86_64&epoch=1"}}
                }]}],
                "relationships": [{"category": "default_component_of",
                    "product_reference": "ruby-2.5.9-111.x86_64", "relates_to_product_reference": "AppStream-8",
                    "full_product_name": {"name": "ruby on 8", "product_id": "AppStream-8:ruby-2.5.9-111.x86_64"}}]
            },
            "vulnerabilities": [{"cve": "CVE-2021-33621",
                "scores": [{"cvss_v3": {"vectorString": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:N", "baseScore": 5.9}, "products": []}],
                "product_status": {"fixed": ["AppStream-8:ruby-2.5.9-111.x86_64"]}}]
        });
        let a = normalize(&csaf).unwrap();
        assert_eq!(a.id, "RHSA-2023:7025");
        assert_eq!(a.aliases, ["CVE-2021-33621"]);
        assert_eq!(a.severity[0].value, "Moderate");
        assert_eq!(a.severity[1].score, Some(5.9));
        assert_eq!(a.affected.len(), 1);
        assert_eq!(a.affected[0].ecosystem, "Red Hat");
        assert_eq!(a.affected[0].purl.as_deref(), Some("pkg:rpm/redhat/ruby"));
        assert_eq!(
            a.affected[0].ranges[0].events,
            [
                RangeEvent::Introduced("0".into()),
                RangeEvent::Fixed("1:2.5.9-111".into())
            ]
        );
    }

    #[test]
    fn purls_name_packages_the_way_their_ecosystems_do() {
        let p = purl_package("pkg:maven/org.apache.logging.log4j/log4j-core@2.17.0").unwrap();
        assert_eq!(
            (p.ecosystem.as_str(), p.name.as_str()),
            ("Maven", "org.apache.logging.log4j:log4j-core")
        );
        assert_eq!(p.purl, "pkg:maven/org.apache.logging.log4j/log4j-core");
        let p = purl_package("pkg:npm/%40babel/core@7.0.0").unwrap();
        assert_eq!(p.name, "@babel/core");
        let p = purl_package("pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64").unwrap();
        assert_eq!(
            (p.ecosystem.as_str(), p.name.as_str()),
            ("Debian", "openssl")
        );
        assert_eq!(p.version.as_deref(), Some("3.0.11-1~deb12u2"));
        let p = purl_package("pkg:golang/github.com/foo/bar").unwrap();
        assert_eq!((p.name.as_str(), p.version), ("github.com/foo/bar", None));
        assert!(purl_package("not a purl").is_none());
    }
}
