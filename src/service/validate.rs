//! Input rules shared by GraphQL and REST. Each failure names the field (snake_case path).

use crate::error::ServiceError;
use crate::model::{Feed, Key, Seek, TimeRange, Toward, Window};

pub const MAX_SUBJECT_CHARS: usize = 1_000;
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub const MAX_ATTACHMENTS: usize = 100;
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_CHARS: usize = 64;
/// Keys are indexed; MySQL/MariaDB index at most 191 utf8mb4 characters.
pub const MAX_KEY_CHARS: usize = 191;
/// Other short texts (filenames, names of people, message ids).
pub const MAX_SHORT_CHARS: usize = 1_000;
pub const MAX_PATH_CHARS: usize = 4_096;
pub const MAX_LIMIT: i64 = 500;

type Result<T = ()> = std::result::Result<T, ServiceError>;

fn fail(field: &str, message: impl Into<String>) -> ServiceError {
    ServiceError::validation(field, message)
}

/// A required text that must not be empty or all whitespace.
pub fn required(field: &str, value: &str, max_chars: usize) -> Result {
    if value.trim().is_empty() {
        return Err(fail(field, format!("{field} must not be empty")));
    }
    max_len(field, value, max_chars)
}

/// An optional text of bounded length.
pub fn max_len(field: &str, value: &str, max_chars: usize) -> Result {
    if value.chars().count() > max_chars {
        return Err(fail(
            field,
            format!("{field} must be at most {max_chars} characters"),
        ));
    }
    Ok(())
}

/// A key (customer or order id): non-empty, bounded, no control characters.
pub fn key(field: &str, value: &str) -> Result {
    required(field, value, MAX_KEY_CHARS)?;
    no_control(field, value)
}

fn no_control(field: &str, value: &str) -> Result {
    if value.chars().any(char::is_control) {
        return Err(fail(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(())
}

/// A path inside Nextcloud: relative segments, forward slashes, printable characters only.
pub fn nextcloud_path(field: &str, value: &str) -> Result {
    required(field, value, MAX_PATH_CHARS)?;
    no_control(field, value)?;
    if value.contains('\\') {
        return Err(fail(field, format!("{field} must not contain a backslash")));
    }
    if value.split('/').any(|segment| segment == "..") {
        return Err(fail(
            field,
            format!("{field} must not contain a '..' segment"),
        ));
    }
    Ok(())
}

pub fn subject(value: &str) -> Result {
    max_len("subject", value, MAX_SUBJECT_CHARS)
}

pub fn body(value: &str) -> Result {
    if value.len() > MAX_BODY_BYTES {
        return Err(fail("body", "body must be at most 1 MiB"));
    }
    Ok(())
}

pub fn attachments(items: &[entity::Attachment]) -> Result {
    if items.len() > MAX_ATTACHMENTS {
        return Err(fail(
            "attachments",
            format!("at most {MAX_ATTACHMENTS} attachments"),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        required(
            &format!("attachments[{i}].filename"),
            &item.filename,
            MAX_SHORT_CHARS,
        )?;
        nextcloud_path(
            &format!("attachments[{i}].nextcloud_path"),
            &item.nextcloud_path,
        )?;
    }
    Ok(())
}

pub fn tags(items: &[String]) -> Result {
    if items.len() > MAX_TAGS {
        return Err(fail("tags", format!("at most {MAX_TAGS} tags")));
    }
    for (i, tag) in items.iter().enumerate() {
        let field = format!("tags[{i}]");
        if tag.trim().is_empty() {
            return Err(fail(&field, "a tag must not be empty"));
        }
        max_len(&field, tag, MAX_TAG_CHARS)?;
    }
    Ok(())
}

/// `type/subtype`, each an RFC 6838 restricted name; no parameters.
pub fn mime_type(value: &str) -> Result {
    fn name(part: &str) -> bool {
        let mut chars = part.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
            && part.len() <= 127
            && chars.all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    }
    match value.split_once('/') {
        Some((kind, sub)) if name(kind) && name(sub) => Ok(()),
        _ => Err(fail("mime_type", "mime_type must look like type/subtype")),
    }
}

/// Page bounds: `limit` in 1..=500, `offset` ≥ 0.
pub fn page(limit: i64, offset: i64) -> Result {
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(fail(
            "limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    if offset < 0 {
        return Err(fail("offset", "offset must not be negative"));
    }
    Ok(())
}

/// Rows of a connection page when neither `first` nor `last` is given.
pub const DEFAULT_FIRST: i64 = 50;

/// Relay's page arguments into a keyset page of `feed`: one of `first`/`last` (default
/// `first: 50`), each 1..=500; cursors must be this feed's, unaltered.
pub fn seek(feed: Feed, window: &Window) -> Result<Seek> {
    let (toward, limit) = match (window.first, window.last) {
        (Some(_), Some(_)) => {
            return Err(fail("last", "give either first or last, not both"));
        }
        (Some(n), None) => (Toward::Older, ("first", n)),
        (None, Some(n)) => (Toward::Newer, ("last", n)),
        (None, None) => (Toward::Older, ("first", DEFAULT_FIRST)),
    };
    let (field, n) = limit;
    if !(1..=MAX_LIMIT).contains(&n) {
        return Err(fail(
            field,
            format!("{field} must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let cursor = |field: &str, text: &Option<String>| -> Result<Option<Key>> {
        text.as_deref()
            .map(|text| {
                Key::from_cursor(feed, text).ok_or_else(|| {
                    fail(field, format!("{field} is not a cursor of this connection"))
                })
            })
            .transpose()
    };
    Ok(Seek {
        toward,
        limit: n as u64,
        after: cursor("after", &window.after)?,
        before: cursor("before", &window.before)?,
        near_side: window.near_side,
    })
}

/// An IN-list filter, when given, must list something.
pub fn some_listed<T>(field: &str, list: &Option<Vec<T>>) -> Result {
    match list {
        Some(items) if items.is_empty() => Err(fail(
            field,
            format!("{field} must list at least one value (leave it out for all)"),
        )),
        _ => Ok(()),
    }
}

/// `from <= t < until`: `from` must not be after `until` (equal is an empty range).
pub fn time_range(field: &str, range: &TimeRange) -> Result {
    match (range.from, range.until) {
        (Some(from), Some(until)) if from > until => Err(fail(
            field,
            format!("{field}: from must not be after until"),
        )),
        _ => Ok(()),
    }
}

/// A search string: at least one word, at most [`MAX_SEARCH_CHARS`] characters and
/// [`MAX_SEARCH_WORDS`] words (see [`crate::model::search`]).
///
/// [`MAX_SEARCH_CHARS`]: crate::model::search::MAX_SEARCH_CHARS
/// [`MAX_SEARCH_WORDS`]: crate::model::search::MAX_SEARCH_WORDS
pub fn search(field: &str, search: &Option<String>) -> Result {
    match search.as_deref().map(crate::model::search::Search::parse) {
        Some(Err(why)) => Err(fail(field, format!("{field} {why}"))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert!(nextcloud_path("p", "/Customers/ACME/a b.pdf").is_ok());
        assert!(nextcloud_path("p", "a/../b").is_err());
        assert!(nextcloud_path("p", "..").is_err());
        assert!(nextcloud_path("p", "a\\b").is_err());
        assert!(nextcloud_path("p", "a\0b").is_err());
        assert!(nextcloud_path("p", "a\nb").is_err());
        assert!(nextcloud_path("p", "a/..b/c").is_ok());
        assert!(nextcloud_path("p", "  ").is_err());
    }

    #[test]
    fn mime_types() {
        for ok in [
            "image/jpeg",
            "application/vnd.ms-excel",
            "text/plain",
            "image/svg+xml",
        ] {
            assert!(mime_type(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "image",
            "image/",
            "/jpeg",
            "image/jpeg/x",
            "text/plain; charset=utf-8",
            "a b/c",
        ] {
            assert!(mime_type(bad).is_err(), "{bad}");
        }
    }
}
