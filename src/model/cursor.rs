//! Keyset paging: the order key of every feed, the window a connection asks for, the slice it
//! gets, and opaque cursors.
//!
//! Every feed is newest first by its time (`occurred_at` of a comm, `created_at` of a media
//! item), then by `id`, both descending; in the merged timeline a comm comes before a media
//! item with the same time and id. A cursor is that key of one row, so a page after it is
//! "every row older than the key", whatever was inserted or deleted since, and the row itself
//! need not exist any more.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use entity::{comm, media};
use sha2::{Digest, Sha256};
use std::cmp::Ordering;

/// The connection a cursor belongs to; a cursor of one is refused by the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    Comms,
    Media,
    Timeline,
}

impl Feed {
    fn tag(self) -> u8 {
        match self {
            Self::Comms => b'c',
            Self::Media => b'm',
            Self::Timeline => b't',
        }
    }
}

/// Which table a row of a feed comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Ordered after a comm with the same time and id.
    Media,
    Comm,
}

/// A row's position in newest-first order. [`Ord`] is that order: `a < b` when `a` comes
/// first (is newer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub at: DateTime<Utc>,
    pub id: String,
    pub kind: Kind,
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.id.as_bytes(), other.kind).cmp(&(self.at, self.id.as_bytes(), self.kind))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Key {
    pub fn of_comm(row: &comm::Model) -> Self {
        Self {
            at: row.occurred_at,
            id: row.id.clone(),
            kind: Kind::Comm,
        }
    }

    pub fn of_media(row: &media::Model) -> Self {
        Self {
            at: row.created_at,
            id: row.id.clone(),
            kind: Kind::Media,
        }
    }

    /// The opaque cursor of this key in `feed`: base64url of a version, the feed, the kind,
    /// the time in microseconds and the id (16 bytes when it is a UUID as crm-comms writes
    /// them), with a checksum.
    pub fn cursor(&self, feed: Feed) -> String {
        let kind = match self.kind {
            Kind::Comm => b'c',
            Kind::Media => b'm',
        };
        let mut raw = Vec::with_capacity(self.id.len() + 24);
        raw.extend_from_slice(&[VERSION, feed.tag(), kind]);
        raw.extend_from_slice(&self.at.timestamp_micros().to_be_bytes());
        match uuid::Uuid::try_parse(&self.id) {
            Ok(uuid) if uuid.hyphenated().to_string() == self.id => {
                raw.push(b'u');
                raw.extend_from_slice(uuid.as_bytes());
            }
            _ => {
                raw.push(b's');
                raw.extend_from_slice(self.id.as_bytes());
            }
        }
        let check = checksum(&raw);
        raw.extend_from_slice(&check);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The key in a cursor of `feed`; `None` for anything else: malformed, altered, or a cursor
    /// of another feed.
    pub fn from_cursor(feed: Feed, cursor: &str) -> Option<Self> {
        const HEAD: usize = 3 + 8 + 1;
        if cursor.len() > 1024 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        if raw.len() < HEAD + CHECK {
            return None;
        }
        let (body, check) = raw.split_at(raw.len() - CHECK);
        if checksum(body) != check || body[0] != VERSION || body[1] != feed.tag() {
            return None;
        }
        let kind = match (feed, body[2]) {
            (Feed::Comms | Feed::Timeline, b'c') => Kind::Comm,
            (Feed::Media | Feed::Timeline, b'm') => Kind::Media,
            _ => return None,
        };
        let micros = i64::from_be_bytes(body[3..11].try_into().ok()?);
        let at = DateTime::from_timestamp_micros(micros)?;
        let id = match (body[11], &body[HEAD..]) {
            (b'u', bytes) => uuid::Uuid::from_slice(bytes).ok()?.hyphenated().to_string(),
            (b's', bytes) => std::str::from_utf8(bytes).ok()?.to_owned(),
            _ => return None,
        };
        Some(Self { at, id, kind })
    }
}

/// The cursor format's version (the first byte).
const VERSION: u8 = 1;
/// Bytes of the checksum at a cursor's end.
const CHECK: usize = 6;

/// Detects altered cursors (not a secret: a forged cursor is just another position).
fn checksum(body: &[u8]) -> [u8; CHECK] {
    let digest = Sha256::new()
        .chain_update(b"crm-comms cursor\0")
        .chain_update(body)
        .finalize();
    let mut out = [0; CHECK];
    out.copy_from_slice(&digest[..CHECK]);
    out
}

/// Which way a connection pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    /// `first`: the newest rows of the window.
    Older,
    /// `last`: the oldest rows of the window.
    Newer,
}

/// A validated page request: `limit` rows from one end of the window of rows strictly after
/// `after` and strictly before `before` (in newest-first order).
#[derive(Debug, Clone)]
pub struct Seek {
    pub toward: Toward,
    pub limit: u64,
    pub after: Option<Key>,
    pub before: Option<Key>,
    /// Whether to look past the cursor the page starts from (see
    /// [`Window::near_side`](super::Window::near_side)).
    pub near_side: bool,
}

impl Seek {
    /// The same page request with room for `limit` rows.
    pub fn with_limit(self, limit: u64) -> Self {
        Self { limit, ..self }
    }
}

/// A page of a feed, newest first, with Relay's page info and, when asked for, the number of
/// all rows matching the filter (cursors aside).
#[derive(Debug)]
pub struct Slice<T> {
    pub rows: Vec<T>,
    pub has_previous: bool,
    pub has_next: bool,
    pub total: Option<u64>,
}

/// A row of the merged timeline.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedItem {
    Comm(comm::Model),
    Media(media::Model),
}

impl FeedItem {
    pub fn key(&self) -> Key {
        match self {
            Self::Comm(row) => Key::of_comm(row),
            Self::Media(row) => Key::of_media(row),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(micros: i64, id: &str, kind: Kind) -> Key {
        Key {
            at: DateTime::from_timestamp_micros(micros).unwrap(),
            id: id.into(),
            kind,
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let k = key(1_764_000_000_123_456, "019a-ü:x", Kind::Comm);
        let cursor = k.cursor(Feed::Comms);
        assert_eq!(Key::from_cursor(Feed::Comms, &cursor), Some(k.clone()));
        assert_eq!(Key::from_cursor(Feed::Media, &cursor), None);
        assert_eq!(Key::from_cursor(Feed::Timeline, &cursor), None);
        let uuid = key(7, "019ad3a2-5b1c-7c4e-9d7a-1f2e3d4c5b6a", Kind::Comm);
        let short = uuid.cursor(Feed::Comms);
        assert!(short.len() < 50, "{short}");
        assert_eq!(Key::from_cursor(Feed::Comms, &short), Some(uuid));
        let upper = key(7, "019AD3A2-5B1C-7C4E-9D7A-1F2E3D4C5B6A", Kind::Comm);
        assert_eq!(
            Key::from_cursor(Feed::Comms, &upper.cursor(Feed::Comms)),
            Some(upper),
            "a UUID in another spelling is kept as it is"
        );
        let media = key(-5, "m", Kind::Media);
        assert_eq!(
            Key::from_cursor(Feed::Timeline, &media.cursor(Feed::Timeline)),
            Some(media)
        );
        for i in 0..cursor.len() {
            let mut altered = cursor.clone().into_bytes();
            altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(altered).unwrap();
            assert_eq!(Key::from_cursor(Feed::Comms, &altered), None, "{altered}");
        }
        for junk in ["", "x", "!!!!", &cursor[..cursor.len() - 1], "MWNj"] {
            assert_eq!(Key::from_cursor(Feed::Comms, junk), None, "{junk}");
        }
    }

    #[test]
    fn keys_order_newest_first_then_id_then_comm() {
        let mut keys = [
            key(1, "a", Kind::Comm),
            key(2, "a", Kind::Media),
            key(2, "b", Kind::Media),
            key(2, "b", Kind::Comm),
            key(3, "a", Kind::Comm),
        ];
        keys.sort();
        let order: Vec<_> = keys
            .iter()
            .map(|k| (k.at.timestamp_micros(), &*k.id, k.kind))
            .collect();
        assert_eq!(
            order,
            [
                (3, "a", Kind::Comm),
                (2, "b", Kind::Comm),
                (2, "b", Kind::Media),
                (2, "a", Kind::Media),
                (1, "a", Kind::Comm),
            ]
        );
    }
}
