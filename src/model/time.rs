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

/// Appends [`output_text`] of `t`, quoted as a JSON string, without building a `String`.
pub fn write_output_json(t: DateTime<Utc>, out: &mut Vec<u8>) {
    use chrono::{Datelike, Timelike};
    let (year, nanos) = (t.year(), t.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        // Years chrono writes with a sign, and leap seconds: the general formatter.
        out.push(b'"');
        out.extend_from_slice(output_text(t).as_bytes());
        out.push(b'"');
        return;
    }
    let digits = |value: u32, width: usize, out: &mut Vec<u8>| {
        let mut buf = [b'0'; 6];
        let mut v = value;
        for slot in buf[..width].iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out.extend_from_slice(&buf[..width]);
    };
    out.push(b'"');
    digits(year as u32, 4, out);
    out.push(b'-');
    digits(t.month(), 2, out);
    out.push(b'-');
    digits(t.day(), 2, out);
    out.push(b'T');
    digits(t.hour(), 2, out);
    out.push(b':');
    digits(t.minute(), 2, out);
    out.push(b':');
    digits(t.second(), 2, out);
    out.push(b'.');
    digits(nanos / 1_000, 6, out);
    out.extend_from_slice(b"Z\"");
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

    #[test]
    fn json_output_is_the_output_text_quoted() {
        use chrono::TimeZone;
        let mut instants = vec![
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(-5, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            DateTime::from_timestamp(1_483_228_799, 1_500_000_000).unwrap(), // leap second
        ];
        // A spread of ordinary instants with every kind of fraction.
        let mut seconds: i64 = 0;
        for i in 0..5_000i64 {
            seconds = (seconds * 6_364_136 + 1_442_695 + i) % 4_000_000_000;
            let micros = (i * 7_919 % 1_000_000) as u32;
            instants.push(DateTime::from_timestamp(seconds, micros * 1_000).unwrap());
        }
        for t in instants {
            let mut out = Vec::new();
            write_output_json(t, &mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!("\"{}\"", output_text(t)),
                "{t:?}"
            );
        }
    }
}
