//! What every encoder needs, computed once: the inventory in a total order, identifiers derived
//! from content, classified licenses and the resolved dependency graph.

use crate::ids::{image_purl, sanitize_spdx_idstring, sha256_hex, short_hash};
use crate::license::{License, classify_all};
use crate::{EncodeOptions, SbomError};
use std::collections::{BTreeMap, BTreeSet};
use stella_model::{Digest, Inventory, Package, PackageKind};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The inventory ready to encode.
pub(crate) struct Prepared {
    /// The inventory, normalised: packages in a total order without exact duplicates.
    pub inv: Inventory,
    pub tool_name: String,
    pub tool_version: String,
    /// `opts.timestamp` in UTC, whole seconds: `YYYY-MM-DDTHH:MM:SSZ`.
    pub timestamp: String,
    /// sha256 hex of the canonical JSON of the tool and the normalised inventory; the seed of
    /// the document identifiers.
    pub content_hex: String,
    /// One entry per `inv.packages`, same order.
    pub entries: Vec<PackageEntry>,
    pub image_ref: String,
    pub image_purl: Option<String>,
    /// bom-ref of the operating-system component, when the distro is known.
    pub os_ref: Option<String>,
}

/// Derived facts about one package.
pub(crate) struct PackageEntry {
    /// CycloneDX `bom-ref`: the purl, or the purl with a `package-id` qualifier when two
    /// different packages share a purl.
    pub bom_ref: String,
    /// SPDX `SPDXID`: `SPDXRef-Package-KIND-NAME-HASH`.
    pub spdx_id: String,
    /// Indices of the packages this one depends on, ascending, without itself.
    pub depends_on: Vec<usize>,
    pub licenses: Vec<License>,
    /// `diff_id` of the introducing layer, when the image lists one for it.
    pub layer_diff_id: Option<Digest>,
}

impl Prepared {
    pub(crate) fn new(inv: &Inventory, opts: &EncodeOptions) -> Result<Prepared, SbomError> {
        if opts.tool_name.trim().is_empty() {
            return Err(SbomError::EmptyToolName);
        }
        let timestamp = normalize_timestamp(&opts.timestamp)?;
        let mut inv = inv.clone();
        inv.normalize();
        // A total order, so that packages equal under `sort_key` still come out the same way
        // whatever order the caller gave them in.
        let mut keyed: Vec<(Vec<u8>, Package)> = inv
            .packages
            .drain(..)
            .map(|p| Ok((serde_json::to_vec(&p)?, p)))
            .collect::<Result<_, serde_json::Error>>()?;
        keyed.sort_by(|(ka, a), (kb, b)| a.sort_key().cmp(&b.sort_key()).then_with(|| ka.cmp(kb)));
        keyed.dedup_by(|(ka, _), (kb, _)| ka == kb);
        inv.packages = keyed.into_iter().map(|(_, p)| p).collect();

        let content = serde_json::json!({
            "tool": { "name": opts.tool_name, "version": opts.tool_version },
            "inventory": inv,
        });
        let content_hex = sha256_hex(&stella_model::canonical_json(&content)?);

        let bom_refs = package_bom_refs(&inv.packages)?;
        let spdx_ids = package_spdx_ids(&inv.packages, &bom_refs)?;
        let deps = resolve_dependencies(&inv.packages);
        let entries = inv
            .packages
            .iter()
            .zip(bom_refs)
            .zip(spdx_ids)
            .zip(deps)
            .map(|(((p, bom_ref), spdx_id), depends_on)| PackageEntry {
                bom_ref,
                spdx_id,
                depends_on,
                licenses: classify_all(&p.licenses),
                layer_diff_id: p.layer.as_ref().and_then(|d| {
                    inv.image
                        .layers
                        .iter()
                        .find(|l| &l.digest == d)
                        .and_then(|l| l.diff_id.clone())
                }),
            })
            .collect::<Vec<_>>();

        let image_purl = image_purl(&inv.image);
        let image_ref = image_purl
            .clone()
            .unwrap_or_else(|| format!("image:{}", inv.image.reference));
        let os_ref = inv.distro.as_ref().map(|d| match &d.version_id {
            Some(v) => format!("os:{}@{}", d.id, v),
            None => format!("os:{}", d.id),
        });
        if let Some(e) = entries
            .iter()
            .find(|e| Some(&e.bom_ref) == os_ref.as_ref() || e.bom_ref == image_ref)
        {
            return Err(SbomError::IdCollision(e.bom_ref.clone()));
        }
        Ok(Prepared {
            inv,
            tool_name: opts.tool_name.clone(),
            tool_version: opts.tool_version.clone(),
            timestamp,
            content_hex,
            entries,
            image_ref,
            image_purl,
            os_ref,
        })
    }

    /// Packages with their derived facts, in output order.
    pub(crate) fn packages(&self) -> impl Iterator<Item = (&Package, &PackageEntry)> {
        self.inv.packages.iter().zip(&self.entries)
    }

    /// `NAME-VERSION` (or `NAME`) of the tool, as SPDX `Tool:` wants it.
    pub(crate) fn tool_id(&self) -> String {
        if self.tool_version.is_empty() {
            self.tool_name.clone()
        } else {
            format!("{}-{}", self.tool_name, self.tool_version)
        }
    }

    /// Facts about the image as `(name, value)` pairs: CycloneDX properties of the image
    /// component, SPDX annotations of the image package. Layers come in manifest order.
    pub(crate) fn image_properties(&self) -> Vec<(String, String)> {
        let img = &self.inv.image;
        let mut props = Vec::new();
        let mut add = |k: &str, v: &str| {
            if !v.is_empty() {
                props.push((format!("stella:image:{k}"), v.to_string()));
            }
        };
        add("reference", &img.reference);
        add("transport", &img.transport);
        add("name", &img.name);
        add("tag", img.tag.as_deref().unwrap_or(""));
        add("manifest_digest", &opt_digest(&img.manifest_digest));
        add("config_digest", &opt_digest(&img.config_digest));
        add("created", img.created.as_deref().unwrap_or(""));
        add("os", &img.os);
        add("architecture", &img.architecture);
        add("variant", img.variant.as_deref().unwrap_or(""));
        for layer in &img.layers {
            add(&format!("layer:{}", layer.index), &layer.digest.to_string());
            add(
                &format!("layer:{}:diff_id", layer.index),
                &opt_digest(&layer.diff_id),
            );
        }
        props
    }

    /// Facts about the distro as `(name, value)` pairs.
    pub(crate) fn os_properties(&self) -> Vec<(String, String)> {
        let Some(d) = &self.inv.distro else {
            return Vec::new();
        };
        let mut props = Vec::new();
        let mut add = |k: &str, v: &str| {
            if !v.is_empty() {
                props.push((format!("stella:os:{k}"), v.to_string()));
            }
        };
        add("id", &d.id);
        add("version_id", d.version_id.as_deref().unwrap_or(""));
        add("codename", d.codename.as_deref().unwrap_or(""));
        add("id_like", &d.id_like.join(" "));
        add("source_file", &d.source_file);
        props
    }

    /// Facts about a package that the formats have no field for, as `(name, value)` pairs.
    pub(crate) fn package_properties(p: &Package, e: &PackageEntry) -> Vec<(String, String)> {
        let mut props = Vec::new();
        let mut add = |k: &str, v: &str| {
            if !v.is_empty() {
                props.push((format!("stella:package:{k}"), v.to_string()));
            }
        };
        add("kind", p.kind.as_str());
        add("arch", p.arch.as_deref().unwrap_or(""));
        add("epoch", &p.epoch.map(|e| e.to_string()).unwrap_or_default());
        add("source_name", p.source_name.as_deref().unwrap_or(""));
        add("source_version", p.source_version.as_deref().unwrap_or(""));
        add("found_in", &p.found_in);
        add("layer", &opt_digest(&p.layer));
        add("layer_diff_id", &opt_digest(&e.layer_diff_id));
        if p.dev {
            add("dev", "true");
        }
        // Analyzer facts (`sha1`, `stella:evidence`, …), already sorted by key.
        for (k, v) in &p.properties {
            let k = k.strip_prefix("stella:").unwrap_or(k);
            add(k, v);
        }
        props
    }
}

/// The sha1 an analyzer recorded for the package's own archive (Java), when it is 40 hex
/// digits: the formats' `hashes`/`checksums` take it.
pub(crate) fn package_sha1(p: &Package) -> Option<&str> {
    p.properties
        .get("sha1")
        .map(String::as_str)
        .filter(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn opt_digest(d: &Option<Digest>) -> String {
    d.as_ref().map(|d| d.to_string()).unwrap_or_default()
}

/// Parses an RFC 3339 date-time and writes it in UTC with whole seconds, the one form that
/// CycloneDX (`date-time`) and SPDX 2.3 (`YYYY-MM-DDThh:mm:ssZ`) both accept.
pub(crate) fn normalize_timestamp(value: &str) -> Result<String, SbomError> {
    let bad = |reason: String| SbomError::InvalidTimestamp {
        value: value.to_string(),
        reason,
    };
    let t = OffsetDateTime::parse(value.trim(), &Rfc3339).map_err(|e| bad(e.to_string()))?;
    let t = t.to_offset(time::UtcOffset::UTC);
    if !(0..=9999).contains(&t.year()) {
        return Err(bad("the year must have four digits".into()));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&fmt).map_err(|e| bad(e.to_string()))
}

/// `bom-ref`s: the purl when it is unique in the inventory. Packages that share a purl (the
/// same package recorded twice with different evidence) get `package-id=HASH` appended as a
/// qualifier, the hash taken over the whole package so that it is stable.
fn package_bom_refs(packages: &[Package]) -> Result<Vec<String>, SbomError> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for p in packages {
        *count.entry(p.purl.as_str()).or_default() += 1;
    }
    let mut refs = Vec::with_capacity(packages.len());
    for p in packages {
        let r = if !p.purl.is_empty() && count[p.purl.as_str()] == 1 {
            p.purl.clone()
        } else {
            let id = short_hash(
                &String::from_utf8_lossy(&stella_model::canonical_json(p)?),
                16,
            );
            if p.purl.is_empty() {
                format!(
                    "stella:package:{}:{}@{}:{id}",
                    p.kind.as_str(),
                    p.name,
                    p.version
                )
            } else if p.purl.contains('?') {
                format!("{}&package-id={id}", p.purl)
            } else {
                format!("{}?package-id={id}", p.purl)
            }
        };
        refs.push(r);
    }
    let mut seen = BTreeSet::new();
    for r in &refs {
        if !seen.insert(r) {
            return Err(SbomError::IdCollision(r.clone()));
        }
    }
    Ok(refs)
}

/// `SPDXID`s, `SPDXRef-Package-KIND-NAME-HASH`: the name for people, sanitised to the characters
/// SPDX allows, and 16 hex digits of sha256 of the (unique) bom-ref to keep ids unique when
/// sanitising merges names (`a+b` and `a_b`) or a name is installed twice.
fn package_spdx_ids(packages: &[Package], bom_refs: &[String]) -> Result<Vec<String>, SbomError> {
    let ids: Vec<String> = packages
        .iter()
        .zip(bom_refs)
        .map(|(p, r)| spdx_package_id(p.kind, &p.name, r))
        .collect();
    let mut seen = BTreeSet::new();
    for id in &ids {
        if !seen.insert(id) {
            return Err(SbomError::IdCollision(id.clone()));
        }
    }
    Ok(ids)
}

pub(crate) fn spdx_package_id(kind: PackageKind, name: &str, bom_ref: &str) -> String {
    format!(
        "SPDXRef-Package-{}-{}-{}",
        kind.as_str(),
        sanitize_spdx_idstring(name),
        short_hash(bom_ref, 16)
    )
}

/// Resolves each package's `depends` to packages of the same kind in the inventory: those
/// named so, and those that `provide` the name (a virtual package such as `mail-transport-agent`
/// may be provided by several). A `name:arch` qualifier (dpkg's `python3:any`) is ignored when
/// the full string matches nothing. Names nothing installed satisfies are dropped, and so are
/// self-references.
pub(crate) fn resolve_dependencies(packages: &[Package]) -> Vec<Vec<usize>> {
    let mut by_name: BTreeMap<(PackageKind, &str), Vec<usize>> = BTreeMap::new();
    for (i, p) in packages.iter().enumerate() {
        by_name
            .entry((p.kind, p.name.as_str()))
            .or_default()
            .push(i);
        for v in &p.provides {
            by_name.entry((p.kind, v.as_str())).or_default().push(i);
        }
    }
    packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut out = BTreeSet::new();
            for dep in &p.depends {
                let name = dep.name.trim();
                let hits = by_name.get(&(p.kind, name)).or_else(|| {
                    name.split_once(':')
                        .and_then(|(base, _)| by_name.get(&(p.kind, base)))
                });
                out.extend(hits.into_iter().flatten().copied().filter(|&j| j != i));
            }
            out.into_iter().collect()
        })
        .collect()
}

/// A supplier string split into name and e-mail: `Name <mail>` as dpkg and apk write it.
pub(crate) fn split_contact(s: &str) -> (String, Option<String>) {
    let s = s.trim();
    if let (Some(open), true) = (s.rfind('<'), s.ends_with('>')) {
        let email = s[open + 1..s.len() - 1].trim();
        let name = s[..open].trim();
        // Maintainer fields sometimes hold a URL in the angle brackets; only an address is
        // an e-mail (CycloneDX validates it as `idn-email`).
        if !looks_like_email(email) {
            return (s.to_string(), None);
        }
        if !email.is_empty() && !name.is_empty() {
            return (name.to_string(), Some(email.to_string()));
        }
        if !email.is_empty() {
            return (email.to_string(), Some(email.to_string()));
        }
    }
    (s.to_string(), None)
}

/// `local@domain` with no spaces, slashes or colons: enough to tell an address from a URL.
fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !s.contains(['/', ' ', ':', '<', '>'])
                && s.matches('@').count() == 1
        }
        None => false,
    }
}

/// Whether a supplier is an organisation rather than a person. RPM vendors always are; for
/// maintainers (dpkg, apk) it is guessed from the name (`GNU Libc Maintainers`, `Debian
/// Perl Group`, `… Team`) and from mailing-list addresses.
pub(crate) fn supplier_is_organization(kind: PackageKind, name: &str, email: Option<&str>) -> bool {
    const WORDS: &[&str] = &[
        "maintainers",
        "maintainer team",
        "team",
        "group",
        "project",
        "developers",
        "foundation",
        "community",
        "inc",
        "inc.",
        "ltd",
        "ltd.",
        "llc",
        "gmbh",
        "corporation",
        "corp",
        "corp.",
        "debian",
        "ubuntu",
        "alpine",
        "fedora",
        "red hat",
        "centos",
        "suse",
        "opensuse",
        "packagers",
        "packaging",
        "committee",
        "consortium",
        "association",
        "organization",
        "organisation",
    ];
    if kind == PackageKind::Rpm {
        return true;
    }
    let lower = name.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    let has_word = WORDS.iter().any(|w| {
        if w.contains(' ') {
            lower.contains(w)
        } else {
            words.contains(w)
        }
    });
    let list_address = email.is_some_and(|e| {
        let e = e.to_lowercase();
        e.contains("@lists.")
            || e.contains("-maintainers@")
            || e.contains("-devel@")
            || e.contains("-team@")
    });
    has_word || list_address
}

#[cfg(test)]
mod tests {
    use super::*;
    use stella_model::Dependency;

    fn pkg(kind: PackageKind, name: &str, depends: &[&str], provides: &[&str]) -> Package {
        Package {
            kind,
            name: name.into(),
            version: "1".into(),
            epoch: None,
            arch: None,
            source_name: None,
            source_version: None,
            supplier: None,
            licenses: vec![],
            files: vec![],
            depends: depends
                .iter()
                .map(|d| Dependency {
                    name: d.to_string(),
                })
                .collect(),
            provides: provides.iter().map(|s| s.to_string()).collect(),
            purl: format!("pkg:{}/x/{name}@1", kind.as_str()),
            found_in: "var/lib/dpkg/status".into(),
            layer: None,
            dev: false,
            properties: Default::default(),
        }
    }

    #[test]
    fn dependencies_resolve_by_name_and_through_provides() {
        use PackageKind::*;
        let packages = vec![
            pkg(
                Deb,
                "bsd-mailx",
                &["mail-transport-agent", "libc6", "nothing-provides-this"],
                &[],
            ),
            pkg(
                Deb,
                "exim4",
                &["libc6:any", "exim4"],
                &["mail-transport-agent"],
            ),
            pkg(Deb, "libc6", &[], &[]),
            pkg(Deb, "postfix", &[], &["mail-transport-agent"]),
            // Same name, other kind: never a match for a deb dependency.
            pkg(Apk, "musl", &["libc6"], &[]),
            pkg(Deb, "musl", &[], &[]),
        ];
        let deps = resolve_dependencies(&packages);
        assert_eq!(
            deps[0],
            vec![1, 2, 3],
            "virtual name resolves to every provider"
        );
        assert_eq!(
            deps[1],
            vec![2],
            ":any is ignored and self-references are dropped"
        );
        assert_eq!(deps[2], Vec::<usize>::new());
        assert_eq!(
            deps[4],
            Vec::<usize>::new(),
            "apk package does not depend on a deb package"
        );
    }

    #[test]
    fn shared_purls_get_distinct_bom_refs_and_spdx_ids() {
        let a = pkg(PackageKind::Deb, "tzdata", &[], &[]);
        let mut b = a.clone();
        b.found_in = "other/status".into();
        let c = pkg(PackageKind::Deb, "libc6", &[], &[]);
        let refs = package_bom_refs(&[a.clone(), b.clone(), c.clone()]).unwrap();
        assert!(
            refs[0].starts_with("pkg:deb/x/tzdata@1?package-id="),
            "{}",
            refs[0]
        );
        assert_ne!(refs[0], refs[1]);
        assert_eq!(refs[2], "pkg:deb/x/libc6@1");
        let ids = package_spdx_ids(&[a, b, c], &refs).unwrap();
        assert_ne!(ids[0], ids[1]);
        assert!(ids[2].starts_with("SPDXRef-Package-deb-libc6-"));
    }

    #[test]
    fn spdx_ids_of_sanitised_lookalike_names_differ() {
        let a = spdx_package_id(
            PackageKind::Deb,
            "libstdc++6",
            "pkg:deb/debian/libstdc%2B%2B6@12",
        );
        let b = spdx_package_id(
            PackageKind::Deb,
            "libstdc--6",
            "pkg:deb/debian/libstdc--6@12",
        );
        assert!(a.starts_with("SPDXRef-Package-deb-libstdc--6-"));
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        );
    }

    #[test]
    fn timestamps_are_normalised_to_utc_seconds() {
        assert_eq!(
            normalize_timestamp("2024-06-01T12:00:00Z").unwrap(),
            "2024-06-01T12:00:00Z"
        );
        assert_eq!(
            normalize_timestamp("2024-06-01T14:00:00.123456+02:00").unwrap(),
            "2024-06-01T12:00:00Z"
        );
        assert!(matches!(
            normalize_timestamp("yesterday"),
            Err(SbomError::InvalidTimestamp { .. })
        ));
        assert!(normalize_timestamp("2024-06-01 12:00").is_err());
    }

    #[test]
    fn a_url_in_angle_brackets_is_not_an_email() {
        let (name, email) =
            split_contact("Google Cloud SDK <https://code.google.com/p/google-cloud-sdk/>");
        assert_eq!(
            name,
            "Google Cloud SDK <https://code.google.com/p/google-cloud-sdk/>"
        );
        assert_eq!(email, None);
        assert_eq!(split_contact("A <a@b.org>").1.as_deref(), Some("a@b.org"));
    }

    #[test]
    fn contacts_split_into_name_and_email() {
        assert_eq!(
            split_contact("GNU Libc Maintainers <debian-glibc@lists.debian.org>"),
            (
                "GNU Libc Maintainers".into(),
                Some("debian-glibc@lists.debian.org".into())
            )
        );
        assert_eq!(
            split_contact("Red Hat, Inc."),
            ("Red Hat, Inc.".into(), None)
        );
        assert_eq!(
            split_contact("<a@b.c>"),
            ("a@b.c".into(), Some("a@b.c".into()))
        );
    }

    #[test]
    fn organisations_and_people_are_told_apart() {
        assert!(supplier_is_organization(
            PackageKind::Deb,
            "GNU Libc Maintainers",
            Some("debian-glibc@lists.debian.org")
        ));
        assert!(!supplier_is_organization(
            PackageKind::Deb,
            "Santiago Vila",
            Some("sanvila@debian.org")
        ));
        assert!(supplier_is_organization(
            PackageKind::Deb,
            "Debian Perl Group",
            None
        ));
        assert!(supplier_is_organization(
            PackageKind::Rpm,
            "Fedora Project",
            None
        ));
        assert!(supplier_is_organization(PackageKind::Rpm, "Jane Doe", None));
        assert!(!supplier_is_organization(
            PackageKind::Apk,
            "Natanael Copa",
            Some("ncopa@alpinelinux.org")
        ));
    }
}
