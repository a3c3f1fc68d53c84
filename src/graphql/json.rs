//! GraphQL answers as JSON bytes.
//!
//! A row list (`graphql::rows`) serialises its rows straight into JSON and hands them up the
//! response tree as [`Value::Binary`]: crm-comms has no binary scalar, so in its answers that
//! variant only ever carries JSON that is already serialised, and [`write_response`] copies it
//! as it is. Everything else is written the way serde_json writes an async-graphql response.

use async_graphql::{Response, Value};

/// `value` as a JSON string literal, quoted and escaped byte for byte as serde_json does it.
///
/// Row text (bodies above all) is most of a timeline's bytes and rarely needs escaping, so
/// the text is scanned eight bytes at a time and copied in runs.
pub fn write_str(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0; // first byte not yet copied
    while let Some(at) = next_escape(bytes, start) {
        out.extend_from_slice(&bytes[start..at]);
        write_escape(out, bytes[at], ESCAPE[bytes[at] as usize]);
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The index of the first byte at or after `from` that needs escaping.
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 8 <= bytes.len() {
        let word = u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let mask = escape_mask(word);
        if mask != 0 {
            // The lowest flagged byte is always a real match (see `escape_mask`).
            return Some(i + (mask.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    (i..bytes.len()).find(|&j| ESCAPE[bytes[j] as usize] != 0)
}

/// The high bit of each of the eight bytes of `word` (little-endian) that is a control
/// character, `"` or `\`, possibly also of bytes above a real match. Bytes of 0x80 and above
/// never match (their high bit is masked out), and a borrow only runs upwards from a real
/// match, so the lowest flagged byte is always a real one and `0` means none.
fn escape_mask(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = word.wrapping_sub(ONES * 0x20);
    let quote = word ^ (ONES * b'"' as u64);
    let backslash = word ^ (ONES * b'\\' as u64);
    let zero = |v: u64| v.wrapping_sub(ONES);
    (below_space | zero(quote) | zero(backslash)) & !word & HIGH
}

const BB: u8 = b'b'; // \x08
const TT: u8 = b't'; // \x09
const NN: u8 = b'n'; // \x0A
const FF: u8 = b'f'; // \x0C
const RR: u8 = b'r'; // \x0D
const QU: u8 = b'"';
const BS: u8 = b'\\';
const UU: u8 = b'u'; // \u00XX
const __: u8 = 0;

/// serde_json's escape table: the character after the backslash, or 0 for none.
static ESCAPE: [u8; 256] = [
    //   1   2   3   4   5   6   7   8   9   A   B   C   D   E   F
    UU, UU, UU, UU, UU, UU, UU, UU, BB, TT, NN, UU, FF, RR, UU, UU, // 0
    UU, UU, UU, UU, UU, UU, UU, UU, UU, UU, UU, UU, UU, UU, UU, UU, // 1
    __, __, QU, __, __, __, __, __, __, __, __, __, __, __, __, __, // 2
    __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // 3
    __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // 4
    __, __, __, __, __, __, __, __, __, __, __, __, BS, __, __, __, // 5
    __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // 6
    __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // 7
    __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // 8
    __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // 9
    __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // A
    __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // B
    __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // C
    __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // D
    __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // E
    __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __, // F
];

fn write_escape(out: &mut Vec<u8>, byte: u8, escape: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if escape == UU {
        out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[(byte >> 4) as usize],
            HEX[(byte & 0xF) as usize],
        ]);
    } else {
        out.extend_from_slice(&[b'\\', escape]);
    }
}

/// `response` as JSON: `data` (unless `with_data` is false: a request error has none), then
/// `extensions` and `errors` when there are any (the field order and omissions of
/// async-graphql's own `Serialize`).
pub fn write_response(
    out: &mut Vec<u8>,
    response: &Response,
    with_data: bool,
) -> serde_json::Result<()> {
    out.reserve(size_hint(&response.data) + 64);
    out.push(b'{');
    let mut comma = false;
    let mut key = |out: &mut Vec<u8>, name: &[u8]| {
        if comma {
            out.push(b',');
        }
        comma = true;
        out.extend_from_slice(name);
    };
    if with_data {
        key(out, b"\"data\":");
        write_value(out, &response.data)?;
    }
    if !response.extensions.is_empty() {
        key(out, b"\"extensions\":");
        serde_json::to_writer(&mut *out, &response.extensions)?;
    }
    if !response.errors.is_empty() {
        key(out, b"\"errors\":");
        serde_json::to_writer(&mut *out, &response.errors)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_value(out: &mut Vec<u8>, value: &Value) -> serde_json::Result<()> {
    match value {
        Value::Binary(raw) => out.extend_from_slice(raw),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_value(out, item)?;
            }
            out.push(b'}');
        }
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
}

/// Roughly the length of `value` as JSON (exact for plain ASCII strings without escapes), so the
/// answer is written into one buffer instead of one that keeps doubling.
fn size_hint(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Boolean(_) => 5,
        Value::Number(_) => 12,
        Value::String(s) => s.len() + 2,
        Value::Enum(name) => name.len() + 2,
        Value::Binary(raw) => raw.len(),
        Value::List(items) => items.iter().map(size_hint).sum::<usize>() + items.len() + 2,
        Value::Object(map) => {
            map.iter()
                .map(|(key, value)| key.len() + 4 + size_hint(value))
                .sum::<usize>()
                + 2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{Name, ServerError};

    fn object(entries: Vec<(&str, Value)>) -> Value {
        Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (Name::new(k), v))
                .collect(),
        )
    }

    #[test]
    fn same_bytes_as_serde_for_ordinary_values() {
        let mut response = Response::new(object(vec![
            ("s", Value::String("quote \" and \u{1} and ü".into())),
            ("n", Value::Number(42.into())),
            ("e", Value::Enum(Name::new("EMAIL"))),
            ("l", Value::List(vec![Value::Null, Value::Boolean(true)])),
            ("o", object(vec![("k\"ey", Value::String(String::new()))])),
        ]));
        response.errors.push(ServerError::new("boom", None));
        let mut ours = Vec::new();
        write_response(&mut ours, &response, true).unwrap();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(&response).unwrap()
        );
    }

    #[test]
    fn strings_are_escaped_exactly_like_serde_json() {
        let mut cases: Vec<String> = vec![
            String::new(),
            "plain ascii text that is long enough for several words".into(),
            "\"\\\u{0}\u{1f}\u{7f}\u{80}ü😀\n\r\t\u{8}\u{c}/".into(),
        ];
        // Every byte that may need escaping, at every position of an 8-byte word and next to
        // multi-byte characters.
        for special in (0u8..0x80).map(char::from).chain(['ü', '😀', '\u{2028}']) {
            for at in 0..17 {
                let mut text: String = "abcdefghijklmnopq".chars().take(at).collect();
                text.push(special);
                text.push_str("xyzxyzxyz");
                text.push(special);
                cases.push(text);
            }
        }
        // Random mixes, specials often next to each other.
        let alphabet = [
            'a', '"', '\\', '\n', '\u{1}', '\u{1f}', ' ', 'ü', '😀', '\u{7f}', 'Z',
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2_000 {
            let mut text = String::new();
            for _ in 0..(state % 40) {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                text.push(alphabet[(state >> 33) as usize % alphabet.len()]);
            }
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            cases.push(text);
        }
        for case in cases {
            let mut ours = Vec::new();
            write_str(&mut ours, &case);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&case).unwrap(),
                "{case:?}"
            );
        }
    }

    #[test]
    fn binary_is_copied_as_json() {
        let raw = br#"[{"id":"a"},{"id":"b"}]"#;
        let response = Response::new(object(vec![(
            "entries",
            Value::Binary(axum::body::Bytes::from_static(raw)),
        )]));
        let mut ours = Vec::new();
        write_response(&mut ours, &response, true).unwrap();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            r#"{"data":{"entries":[{"id":"a"},{"id":"b"}]}}"#
        );
    }
}
