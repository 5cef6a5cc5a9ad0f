//! FIRST EPSS scores (`epss_scores-YYYY-MM-DD.csv.gz`): a comment line
//! `#model_version:v2023.03.01,score_date:2025-02-20T00:00:00+0000`, the header
//! `cve,epss,percentile`, then one row per CVE.
//!
//! Scores without a date cannot be told apart from yesterday's, so a file without the
//! comment line, without `score_date` or with another header is refused as a whole (as
//! vunnel's EPSS provider does); a bad row is one record error. Each row's document is
//! `{"cve", "epss", "percentile"}` with the numbers as JSON numbers parsed from the row's
//! text.

use super::{Format, ParseError, ParsedRecord, Sink};
use serde_json::{Map, Number, Value};
use std::str::FromStr;
use stella_model::{EpssScore, FeedSource, Normalized};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

const HEADER: [&str; 3] = ["cve", "epss", "percentile"];

pub(super) fn parse(
    sink: &mut Sink,
    location: &str,
    _format: Format,
    bytes: &[u8],
) -> Result<(), ParseError> {
    let shape = |message: String| ParseError::Shape {
        name: location.to_string(),
        feed: FeedSource::Epss,
        message,
    };
    let (first, rest) = match bytes.iter().position(|&b| b == b'\n') {
        Some(end) => (&bytes[..end], &bytes[end + 1..]),
        None => (bytes, &[][..]),
    };
    let first = std::str::from_utf8(first)
        .map_err(|e| ParseError::Csv {
            name: location.to_string(),
            line: 1,
            message: e.to_string(),
        })?
        .trim();
    let Some(meta) = first.strip_prefix('#') else {
        return Err(shape(format!(
            "expected a first line `#model_version:…,score_date:…`, found {first:?}"
        )));
    };
    let (mut model_version, mut score_date) = (None, None);
    for part in meta.split(',') {
        match part.split_once(':').map(|(k, v)| (k.trim(), v.trim())) {
            Some(("model_version", v)) if !v.is_empty() => model_version = Some(v.to_string()),
            Some(("score_date", v)) if !v.is_empty() => score_date = Some(v),
            _ => {}
        }
    }
    let model_version =
        model_version.ok_or_else(|| shape("the `#` line has no model_version".to_string()))?;
    let score_date =
        score_date.ok_or_else(|| shape("the `#` line has no score_date".to_string()))?;
    let date = rfc3339(score_date)
        .ok_or_else(|| shape(format!("score_date {score_date:?} is not a date")))?;

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(rest);
    let mut rows = reader.records();
    match rows.next() {
        Some(Ok(header)) if header.iter().map(str::trim).eq(HEADER) => {}
        Some(Ok(header)) => {
            return Err(shape(format!(
                "expected the header `cve,epss,percentile` on line 2, found {:?}",
                header.iter().collect::<Vec<_>>().join(",")
            )));
        }
        Some(Err(e)) => {
            return Err(ParseError::Csv {
                name: location.to_string(),
                line: 2,
                message: e.to_string(),
            });
        }
        None => return Err(shape("no header line".to_string())),
    }
    for row in rows {
        // Lines count from the comment line, which the CSV reader did not see.
        let (line, row) = match row {
            Ok(row) => (row.position().map_or(0, |p| p.line() + 1), row),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() + 1);
                sink.error(format!("{location}: line {line}"), e.to_string());
                continue;
            }
        };
        let place = format!("{location}: line {line}");
        match score(&row, &model_version, &date) {
            Ok((document, score)) => sink.record(
                &place,
                ParsedRecord {
                    upstream_id: score.cve.clone(),
                    document,
                    normalized: Normalized::Epss(score),
                },
            ),
            Err(message) => sink.error(place, message),
        }
    }
    Ok(())
}

/// One row as its document and its score.
fn score(
    row: &csv::StringRecord,
    model_version: &str,
    date: &str,
) -> Result<(Value, EpssScore), String> {
    if row.len() != 3 {
        return Err(format!(
            "expected 3 fields (cve,epss,percentile), found {}",
            row.len()
        ));
    }
    let cve = row[0].trim();
    if !cve.starts_with("CVE-") {
        return Err(format!("{cve:?} is not a CVE id"));
    }
    let number = |field: &str, text: &str| -> Result<(Number, f64), String> {
        let text = text.trim();
        let value = f64::from_str(text)
            .ok()
            .filter(|v| (0.0..=1.0).contains(v))
            .ok_or_else(|| format!("{field} {text:?} is not a probability between 0 and 1"))?;
        let number =
            Number::from_str(text).map_err(|_| format!("{field} {text:?} is not a JSON number"))?;
        Ok((number, value))
    };
    let (epss_number, epss) = number("epss", &row[1])?;
    let (percentile_number, percentile) = number("percentile", &row[2])?;
    let mut document = Map::new();
    document.insert("cve".into(), Value::String(cve.to_string()));
    document.insert("epss".into(), Value::Number(epss_number));
    document.insert("percentile".into(), Value::Number(percentile_number));
    Ok((
        Value::Object(document),
        EpssScore {
            cve: cve.to_string(),
            epss,
            percentile,
            date: Some(date.to_string()),
            model_version: Some(model_version.to_string()),
        },
    ))
}

/// `score_date` as RFC 3339. EPSS writes `2025-02-20T00:00:00+0000` (no colon in the
/// offset, which RFC 3339 requires); a plain date is kept as it is.
fn rfc3339(text: &str) -> Option<String> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return t.format(&Rfc3339).ok();
    }
    let compact = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory][offset_minute]"
    );
    if let Ok(t) = OffsetDateTime::parse(text, &compact) {
        return t.format(&Rfc3339).ok();
    }
    Date::parse(text, &format_description!("[year]-[month]-[day]"))
        .ok()
        .map(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_dates_become_rfc3339() {
        assert_eq!(
            rfc3339("2025-02-20T00:00:00+0000").as_deref(),
            Some("2025-02-20T00:00:00Z")
        );
        assert_eq!(
            rfc3339("2025-02-20T00:00:00Z").as_deref(),
            Some("2025-02-20T00:00:00Z")
        );
        assert_eq!(rfc3339("2025-02-20").as_deref(), Some("2025-02-20"));
        assert_eq!(rfc3339("yesterday"), None);
    }

    #[test]
    fn rows_outside_zero_to_one_are_refused() {
        let row = csv::StringRecord::from(vec!["CVE-2024-1", "1.5", "0.2"]);
        assert!(score(&row, "v1", "d").unwrap_err().contains("epss"));
        let row = csv::StringRecord::from(vec!["CVE-2024-1", "0.00383", "0.73075"]);
        let (doc, s) = score(&row, "v1", "d").unwrap();
        assert_eq!(s.epss, 0.00383);
        assert_eq!(doc["percentile"], serde_json::json!(0.73075));
    }
}
