//! Ratings: every severity statement of a linkset turned into a [`Rating`], and the choice of
//! the one severity a finding is filtered and gated by (the precedence is in the crate
//! documentation).

use std::cmp::Ordering;

use stella_model::{FeedSource, Rating, Severity, SeverityStatement};

use crate::cvss::{CvssVersion, score};

/// A rating with what the choice of the finding's severity needs to know about it.
#[derive(Debug, Clone)]
pub(crate) struct Rated {
    pub(crate) rating: Rating,
    /// `None` for labels.
    pub(crate) version: Option<CvssVersion>,
    /// Stated by NVD (the feed, or `nvd@nist.gov` as the source).
    pub(crate) nvd: bool,
}

/// A severity word mapped to [`Severity`]; Debian's `*` suffixes are dropped. Words that are
/// not severities (`not yet assigned`, `end-of-life`) are [`Severity::Unknown`].
pub(crate) fn label_severity(label: &str) -> Severity {
    let l = label
        .trim()
        .trim_end_matches('*')
        .trim()
        .to_ascii_lowercase();
    match l.as_str() {
        "critical" => Severity::Critical,
        "high" | "important" => Severity::High,
        "moderate" | "medium" => Severity::Medium,
        "low" => Severity::Low,
        "unimportant" | "negligible" => Severity::Negligible,
        _ => Severity::Unknown,
    }
}

/// Turns a statement into a rating. Labels that name no severity give `None`.
pub(crate) fn rate(stmt: &SeverityStatement, feed: FeedSource) -> Option<Rated> {
    let source = if stmt.source.trim().is_empty() {
        feed.as_str().to_string()
    } else {
        stmt.source.trim().to_string()
    };
    let nvd = feed == FeedSource::Nvd
        || source.eq_ignore_ascii_case("nvd@nist.gov")
        || source.eq_ignore_ascii_case("nvd");
    let value = stmt.value.trim();
    let Some(version) = CvssVersion::of(stmt.kind, value) else {
        let severity = label_severity(value);
        if severity == Severity::Unknown {
            return None;
        }
        return Some(Rated {
            rating: Rating {
                source,
                method: "other".to_string(),
                vector: None,
                score: stmt.score.filter(|s| s.is_finite()),
                severity,
            },
            version: None,
            nvd,
        });
    };
    let (score, severity) = match score(stmt.kind, value) {
        Ok((s, sev)) => (Some(s), sev),
        // The vector is broken: the stated score is all there is.
        Err(_) => match stmt
            .score
            .filter(|s| s.is_finite() && (0.0..=10.0).contains(s))
        {
            Some(s) if version == CvssVersion::V2 => (
                Some(s),
                match s {
                    s if s >= 7.0 => Severity::High,
                    s if s >= 4.0 => Severity::Medium,
                    s if s > 0.0 => Severity::Low,
                    _ => Severity::Negligible,
                },
            ),
            Some(s) => (Some(s), Severity::from_cvss_score(s)),
            None => (None, Severity::Unknown),
        },
    };
    Some(Rated {
        rating: Rating {
            source,
            method: version.method().to_string(),
            vector: Some(value.to_string()),
            score,
            severity,
        },
        version: Some(version),
        nvd,
    })
}

/// The order of ratings in a finding: source, method, vector, severity, score.
pub(crate) fn rating_cmp(a: &Rating, b: &Rating) -> Ordering {
    a.source
        .cmp(&b.source)
        .then_with(|| a.method.cmp(&b.method))
        .then_with(|| a.vector.cmp(&b.vector))
        .then_with(|| a.severity.cmp(&b.severity))
        .then_with(|| match (a.score, b.score) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        })
}

/// One rating that can decide a finding's severity.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate<'a> {
    pub(crate) rated: &'a Rated,
    /// Stated by a record that matched the package.
    pub(crate) matched: bool,
    /// Stated by the distribution's own tracker for the matched release.
    pub(crate) distro: bool,
}

/// Chooses the finding's severity. `candidates` must be in [`rating_cmp`] order, which breaks
/// ties (so "by source name").
pub(crate) fn choose<'a>(candidates: &[Candidate<'a>], os_package: bool) -> Option<&'a Rating> {
    let known = |c: &&Candidate<'a>| c.rated.rating.severity != Severity::Unknown;
    let find = |pred: &dyn Fn(&Candidate<'a>) -> bool| -> Option<&'a Rating> {
        candidates
            .iter()
            .filter(known)
            .find(|c| pred(c))
            .map(|c| &c.rated.rating)
    };
    let is = |c: &Candidate<'a>, v: CvssVersion| c.rated.version == Some(v);
    let label = |c: &Candidate<'a>| c.rated.version.is_none();
    let modern = |c: &Candidate<'a>| {
        matches!(
            c.rated.version,
            Some(CvssVersion::V31 | CvssVersion::V30 | CvssVersion::V4)
        )
    };

    let first = if os_package {
        find(&|c| c.distro && c.matched && label(c))
    } else {
        find(&|c| c.matched && is(c, CvssVersion::V31))
            .or_else(|| find(&|c| c.matched && is(c, CvssVersion::V30)))
            .or_else(|| find(&|c| c.matched && is(c, CvssVersion::V4)))
            .or_else(|| find(&|c| c.matched && is(c, CvssVersion::V2)))
    };
    first
        .or_else(|| find(&|c| c.rated.nvd && is(c, CvssVersion::V31)))
        .or_else(|| find(&|c| c.rated.nvd && is(c, CvssVersion::V30)))
        .or_else(|| find(&|c| c.rated.nvd && is(c, CvssVersion::V4)))
        .or_else(|| find(&|c| modern(c)))
        .or_else(|| find(&|c| c.rated.nvd && is(c, CvssVersion::V2)))
        .or_else(|| find(&|c| is(c, CvssVersion::V2)))
        .or_else(|| find(&|c| c.matched && label(c)))
        .or_else(|| find(&|c| label(c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stella_model::SeverityKind;

    fn stmt(kind: SeverityKind, value: &str, source: &str) -> SeverityStatement {
        SeverityStatement {
            kind,
            value: value.into(),
            score: None,
            source: source.into(),
        }
    }

    #[test]
    fn labels_map_to_severities() {
        for (word, sev) in [
            ("critical", Severity::Critical),
            ("Important", Severity::High),
            ("HIGH", Severity::High),
            ("high**", Severity::High),
            ("moderate", Severity::Medium),
            ("MEDIUM", Severity::Medium),
            ("low*", Severity::Low),
            ("unimportant", Severity::Negligible),
            ("negligible", Severity::Negligible),
            ("not yet assigned", Severity::Unknown),
            ("end-of-life", Severity::Unknown),
        ] {
            assert_eq!(label_severity(word), sev, "{word}");
        }
    }

    #[test]
    fn ratings_take_the_method_from_the_vector_and_the_score_from_cvss() {
        let r = rate(
            &SeverityStatement {
                score: Some(5.0),
                ..stmt(
                    SeverityKind::CvssV3,
                    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                    "nvd@nist.gov",
                )
            },
            FeedSource::Nvd,
        )
        .unwrap();
        assert_eq!(r.rating.method, "CVSSv31");
        assert_eq!(r.rating.score, Some(9.8));
        assert_eq!(r.rating.severity, Severity::Critical);
        assert!(r.nvd);
        // A broken vector falls back to the stated score.
        let r = rate(
            &SeverityStatement {
                score: Some(7.2),
                ..stmt(SeverityKind::CvssV3, "CVSS:3.1/AV:N/garbage", "GitHub")
            },
            FeedSource::Osv,
        )
        .unwrap();
        assert_eq!(r.rating.score, Some(7.2));
        assert_eq!(r.rating.severity, Severity::High);
        assert!(!r.nvd);
        let r = rate(&stmt(SeverityKind::Label, "moderate", ""), FeedSource::Csaf).unwrap();
        assert_eq!(r.rating.source, "csaf");
        assert_eq!(r.rating.method, "other");
        assert!(
            rate(
                &stmt(SeverityKind::Label, "not yet assigned", "debian"),
                FeedSource::Debian
            )
            .is_none()
        );
    }
}
