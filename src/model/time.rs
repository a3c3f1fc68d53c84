//! Instants: parsing client input, the SQLite storage format (written and read), and the
//! output format.

use chrono::{
    DateTime, FixedOffset, NaiveDateTime, Offset, SecondsFormat, SubsecRound, TimeZone, Utc,
};

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
    // The UTC calendar fields, computed once (each of `DateTime`'s accessors converts).
    let t = t.naive_utc();
    let (year, nanos) = (t.year(), t.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        // Years chrono writes with a sign, and leap seconds: the general formatter.
        out.push(b'"');
        out.extend_from_slice(output_text(t.and_utc()).as_bytes());
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

/// A stored instant. The fast path is RFC 3339 (what crm-comms writes); the fallbacks accept
/// the shapes the seed's Python backend may have written, exactly as sqlx's SQLite driver did
/// (naive = UTC).
pub fn stored_instant(text: &str) -> Option<DateTime<Utc>> {
    if let Some(t) = canonical_instant(text) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    const FORMATS: [&str; 12] = [
        "%F %T%.f",
        "%F %R",
        "%F %RZ",
        "%F %R%:z",
        "%F %T%.fZ",
        "%F %T%.f%:z",
        "%FT%R",
        "%FT%RZ",
        "%FT%R%:z",
        "%FT%T%.f",
        "%FT%T%.fZ",
        "%FT%T%.f%:z",
    ];
    FORMATS.iter().find_map(|format| {
        DateTime::parse_from_str(text, format)
            .ok()
            .or_else(|| {
                NaiveDateTime::parse_from_str(text, format)
                    .ok()
                    .map(|naive| Utc.fix().from_utc_datetime(&naive))
            })
            .map(|t: DateTime<FixedOffset>| t.with_timezone(&Utc))
    })
}

/// The format crm-comms itself writes (`2026-11-24T00:47:39.123456+00:00`, see
/// [`sqlite_text`]), read without chrono's general parser; `None` for any other
/// shape (and for impossible dates), which the general path then handles.
fn canonical_instant(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    if b.len() != 32
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || &b[26..] != b"+00:00"
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let date =
        chrono::NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)?;
    let time = chrono::NaiveTime::from_hms_micro_opt(
        number(11..13)?,
        number(14..16)?,
        number(17..19)?,
        number(20..26)?,
    )?;
    Some(date.and_time(time).and_utc())
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

    #[test]
    fn stored_instants_in_every_seed_shape() {
        let expect = "2026-11-24T00:47:39.123456Z";
        for text in [
            "2026-11-24T00:47:39.123456+00:00",
            "2026-11-24T00:47:39.123456Z",
            "2026-11-24T02:47:39.123456+02:00",
            "2026-11-24T00:47:39.123456",
            "2026-11-24 00:47:39.123456",
            "2026-11-24 02:47:39.123456+02:00",
        ] {
            let t = stored_instant(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(output_text(t), expect, "{text}");
        }
        assert!(stored_instant("2026-11-24T00:47").is_some());
        assert!(stored_instant("yesterday").is_none());
    }

    #[test]
    fn canonical_instants_read_like_the_general_parser() {
        let mut seconds: i64 = 0;
        for i in 0..5_000i64 {
            seconds = (seconds * 6_364_136 + 1_442_695 + i) % 253_402_300_799; // up to 9999
            let t =
                DateTime::from_timestamp(seconds, (i * 7_919 % 1_000_000) as u32 * 1_000).unwrap();
            let text = sqlite_text(t);
            assert_eq!(canonical_instant(&text), Some(t), "{text}");
            assert_eq!(
                DateTime::parse_from_rfc3339(&text)
                    .unwrap()
                    .with_timezone(&Utc),
                t
            );
        }
        for other in [
            "2026-11-24T00:47:39.123456Z",
            "2026-11-24T00:47:39.123456+02:00",
            "2026-02-30T00:47:39.123456+00:00",
            "2026-11-24T24:47:39.123456+00:00",
            "2026-11-24T00:47:39.12345a+00:00",
            "2026-11-24 00:47:39.123456+00:00",
            "+026-11-24T00:47:39.123456+00:00",
        ] {
            assert_eq!(canonical_instant(other), None, "{other}");
        }
    }
}
