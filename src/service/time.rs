//! Instants: parsing client input, the fixed SQLite storage format, and the output format.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, SubsecRound, Utc};

/// Parses an RFC 3339 date-time with any offset (`Z`, `+02:00`, ...) into UTC, truncated to
/// microseconds (the precision every backend stores). With `allow_naive`, a date-time without
/// an offset is read as UTC, as the seed's Python backend does.
pub fn parse_instant(text: &str, allow_naive: bool) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let parsed = DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            if !allow_naive {
                return None;
            }
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                .iter()
                .find_map(|fmt| NaiveDateTime::parse_from_str(text, fmt).ok())
                .map(|naive| naive.and_utc())
        })?;
    Some(parsed.trunc_subsecs(6))
}

/// The one format crm-comms writes to SQLite TEXT columns: `2026-11-24T00:47:39.123456+00:00`.
/// Fixed width, UTC, so ordering by the TEXT column is chronological; it is also what the seed's
/// Python backend writes for an aware UTC `datetime` with a fraction.
pub fn sqlite_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// The output format of every API: RFC 3339 in UTC with microseconds, `…T00:47:39.123456Z`.
pub fn output_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Now, at storage precision.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_utc_and_formats_are_fixed() {
        let t = parse_instant("2026-11-24T02:47:39.1234567+02:00", false).unwrap();
        assert_eq!(output_text(t), "2026-11-24T00:47:39.123456Z");
        assert_eq!(sqlite_text(t), "2026-11-24T00:47:39.123456+00:00");
        let whole = parse_instant("2026-11-24T00:47:39Z", false).unwrap();
        assert_eq!(sqlite_text(whole), "2026-11-24T00:47:39.000000+00:00");
    }

    #[test]
    fn naive_only_when_allowed() {
        assert!(parse_instant("2026-11-24T00:47:39.123456", false).is_none());
        let t = parse_instant("2026-11-24T00:47:39.123456", true).unwrap();
        assert_eq!(output_text(t), "2026-11-24T00:47:39.123456Z");
        assert!(parse_instant("yesterday", true).is_none());
        assert!(parse_instant("2026-13-01T00:00:00Z", true).is_none());
    }
}
