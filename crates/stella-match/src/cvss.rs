//! CVSS base scores computed from vectors, through the `cvss` crate (v2.0, v3.0, v3.1 and
//! v4.0).
//!
//! The vector's own prefix decides the method: a `CVSS:4.0/…` vector scores with the v4.0
//! method whatever the statement's kind claims, a vector without prefix is CVSS v2.0.
//! Upstream scores are never copied when the vector can be scored: they are sometimes
//! stale or rounded differently.

use stella_model::{Severity, SeverityKind};

/// Why a vector could not be scored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CvssError {
    /// A severity word (`high`, `Important`), not a vector.
    #[error("{0:?} is a severity label, not a CVSS vector")]
    NotAVector(String),
    /// The vector does not parse.
    #[error("invalid CVSS vector {vector:?}: {reason}")]
    Invalid { vector: String, reason: String },
}

/// The CVSS version of a vector, from its prefix (`kind` only for a bare vector).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CvssVersion {
    V2,
    V30,
    V31,
    V4,
}

impl CvssVersion {
    /// CycloneDX's rating method name.
    pub(crate) fn method(self) -> &'static str {
        match self {
            CvssVersion::V2 => "CVSSv2",
            CvssVersion::V30 => "CVSSv3",
            CvssVersion::V31 => "CVSSv31",
            CvssVersion::V4 => "CVSSv4",
        }
    }

    pub(crate) fn of(kind: SeverityKind, vector: &str) -> Option<CvssVersion> {
        let v = vector.trim();
        if v.starts_with("CVSS:3.1/") {
            Some(CvssVersion::V31)
        } else if v.starts_with("CVSS:3.0/") {
            Some(CvssVersion::V30)
        } else if v.starts_with("CVSS:4.0/") {
            Some(CvssVersion::V4)
        } else if v.starts_with("CVSS:2.0/") {
            Some(CvssVersion::V2)
        } else {
            match kind {
                SeverityKind::CvssV2 => Some(CvssVersion::V2),
                SeverityKind::CvssV3 => Some(CvssVersion::V31),
                SeverityKind::CvssV4 => Some(CvssVersion::V4),
                SeverityKind::Label => None,
            }
        }
    }
}

/// The base score of a vector and its qualitative severity (CVSS v3/v4 scale; v2 has no
/// critical, so v2 uses NVD's low/medium/high bands). A score of 0 is negligible.
pub fn score(kind: SeverityKind, vector: &str) -> Result<(f64, Severity), CvssError> {
    if kind == SeverityKind::Label {
        return Err(CvssError::NotAVector(vector.to_string()));
    }
    let trimmed = vector.trim();
    let invalid = |reason: String| CvssError::Invalid {
        vector: vector.to_string(),
        reason,
    };
    let is_v2 = !trimmed.starts_with("CVSS:") || trimmed.starts_with("CVSS:2.0/");
    if is_v2 {
        // NVD wraps v2 vectors in parentheses in places; some feeds add a `CVSS:2.0/` prefix
        // that the v2 grammar does not have.
        let bare = trimmed
            .strip_prefix("CVSS:2.0/")
            .unwrap_or(trimmed)
            .trim_start_matches('(')
            .trim_end_matches(')');
        let v: cvss::v2::Vector = bare
            .parse()
            .map_err(|e: cvss::Error| invalid(e.to_string()))?;
        let s = v.score();
        let sev = match s.severity() {
            cvss::Severity::None => Severity::Negligible,
            cvss::Severity::Low => Severity::Low,
            cvss::Severity::Medium => Severity::Medium,
            cvss::Severity::High | cvss::Severity::Critical => Severity::High,
        };
        let value = s.value();
        return Ok((
            value,
            if value == 0.0 {
                Severity::Negligible
            } else {
                sev
            },
        ));
    }
    let parsed: cvss::Cvss = trimmed
        .parse()
        .map_err(|e: cvss::Error| invalid(e.to_string()))?;
    let value = parsed.score();
    if !value.is_finite() {
        return Err(invalid(format!("score {value} is not a number")));
    }
    Ok((value, Severity::from_cvss_score(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors_score_as_first_publishes() {
        for (kind, vector, want, sev) in [
            (
                SeverityKind::CvssV3,
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                9.8,
                Severity::Critical,
            ),
            (
                SeverityKind::CvssV3,
                "CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
                6.1,
                Severity::Medium,
            ),
            (
                SeverityKind::CvssV4,
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                9.3,
                Severity::Critical,
            ),
            (
                SeverityKind::CvssV2,
                "AV:N/AC:L/Au:N/C:P/I:P/A:P",
                7.5,
                Severity::High,
            ),
            (
                SeverityKind::CvssV2,
                "(AV:N/AC:L/Au:N/C:C/I:C/A:C)",
                10.0,
                Severity::High,
            ),
            (
                SeverityKind::CvssV2,
                "AV:N/AC:M/Au:N/C:N/I:P/A:N",
                4.3,
                Severity::Medium,
            ),
            // A v4 vector stated under a v3 kind scores with the v4 method.
            (
                SeverityKind::CvssV3,
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                9.3,
                Severity::Critical,
            ),
        ] {
            let (got, got_sev) = score(kind, vector).unwrap();
            assert!((got - want).abs() < 1e-9, "{vector}: {got} != {want}");
            assert_eq!(got_sev, sev, "{vector}");
        }
    }

    #[test]
    fn bad_vectors_and_labels_are_errors() {
        assert!(matches!(
            score(SeverityKind::Label, "HIGH"),
            Err(CvssError::NotAVector(_))
        ));
        assert!(matches!(
            score(SeverityKind::CvssV3, "CVSS:3.1/AV:X"),
            Err(CvssError::Invalid { .. })
        ));
        assert!(score(SeverityKind::CvssV3, "").is_err());
        assert!(score(SeverityKind::CvssV3, "CVSS:9.9/AV:N").is_err());
    }

    #[test]
    fn methods_follow_the_vector_prefix() {
        assert_eq!(
            CvssVersion::of(SeverityKind::CvssV3, "CVSS:3.0/AV:N").map(CvssVersion::method),
            Some("CVSSv3")
        );
        assert_eq!(
            CvssVersion::of(SeverityKind::CvssV3, "CVSS:4.0/AV:N").map(CvssVersion::method),
            Some("CVSSv4")
        );
        assert_eq!(
            CvssVersion::of(SeverityKind::CvssV2, "AV:N/AC:L").map(CvssVersion::method),
            Some("CVSSv2")
        );
        assert_eq!(CvssVersion::of(SeverityKind::Label, "high"), None);
    }
}
