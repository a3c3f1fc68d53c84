//! The deterministic dataset: a seeded splitmix64 generator and the comm/media rows it yields.
//!
//! Everything here is a pure function of [`Params`]: the same parameters give byte-identical
//! rows on every machine, so a SQLite file generated once can be cached and the load client can
//! draw existing keys (`cust-000042`, `ord-000123`) without reading the database.

use chrono::{DateTime, Utc};

/// Bump when the generated rows or the schema change, so stale cached files are not reused
/// (5: SQLite order indexes without `julianday`; 6: the inbox index `idx_crm_comms_log_time`
/// of migration `m20261202_000005_inbox_order`, which `crm-comms migrate` creates before the
/// rows are loaded: a v5 file would make the server build it on every run's copy; 7: that
/// index carries `type` and `direction` on PostgreSQL; 8: the ingest index of migration
/// `m20261203_000006_ingest_keys`; 9: the SQLite inbox index covers all but the large columns;
/// 10: the search index of migration `m20261204_000007_search`, built by `crm-comms migrate`;
/// 11: its vocabulary and negated document numbers).
pub const GENERATOR_VERSION: u32 = 11;

/// splitmix64: tiny, fast, and good enough for test data and key sampling.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x5DEE_CE66_D1CE_5EED)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        out
    }
}

/// The splitmix64 finaliser, also used as a stateless hash.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Dataset size and seed.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub comms: u64,
    pub customers: u64,
    pub media: u64,
    pub orders: u64,
    pub seed: u64,
}

impl Params {
    /// A file/database-name-safe key of all parameters.
    pub fn key(&self) -> String {
        format!(
            "{}-{}-{}-o{}-s{}-v{}",
            self.comms, self.customers, self.media, self.orders, self.seed, GENERATOR_VERSION
        )
    }

    /// Customer `i`'s order (the customer an order belongs to is fixed by the seed).
    pub fn customer_of_order(&self, order: u64) -> u64 {
        mix(self.seed.wrapping_mul(0x1000_0001) ^ order.wrapping_add(0xA5A5)) % self.customers
    }
}

pub fn customer_id(i: u64) -> String {
    format!("cust-{i:06}")
}

pub fn order_id(i: u64) -> String {
    format!("ord-{i:06}")
}

/// The dataset covers the two years before this instant (fixed, so the data is reproducible):
/// every comm's `occurred_at` and every media item's `created_at` is in
/// `START_MICROS..END_MICROS`, the newest within one generation step of `END_MICROS`.
pub const END_MICROS: i64 = 1_793_491_200_000_000; // 2026-11-01T00:00:00Z
pub const DAY_MICROS: i64 = 86_400 * 1_000_000;
const SPAN_MICROS: i64 = 730 * DAY_MICROS;
pub const START_MICROS: i64 = END_MICROS - SPAN_MICROS;

pub fn instant(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).expect("in range")
}

/// The server's SQLite TEXT format: `2026-11-24T00:47:39.123456+00:00`.
pub fn sqlite_time(micros: i64) -> String {
    instant(micros)
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

/// GraphQL `DateTime` input (RFC 3339, UTC): `2026-11-24T00:47:39.123456Z`.
pub fn rfc3339(micros: i64) -> String {
    instant(micros).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// PostgreSQL `timestamptz` input: `2026-11-24 00:47:39.123456+00`.
pub fn pg_time(micros: i64) -> String {
    instant(micros)
        .format("%Y-%m-%d %H:%M:%S%.6f+00")
        .to_string()
}

/// A UUIDv7 (as the server makes) for `micros`, its random bits from the seeded generator.
fn uuid_v7(rng: &mut Rng, micros: i64) -> String {
    let random: [u8; 10] = rng.bytes();
    uuid::Builder::from_unix_timestamp_millis((micros / 1000) as u64, &random)
        .into_uuid()
        .to_string()
}

pub struct Comm {
    pub id: String,
    pub customer_id: String,
    pub kind: &'static str,
    pub direction: &'static str,
    pub subject: Option<String>,
    pub body: Option<String>,
    /// JSON text of a list of `{"filename", "nextcloud_path"}`, as the server writes it.
    pub attachments: String,
    pub ext_message_id: Option<String>,
    pub logged_by: Option<&'static str>,
    pub occurred_at: i64,
    pub created_at: i64,
}

pub struct Media {
    pub id: String,
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
    pub filename: String,
    pub nextcloud_path: String,
    pub mime_type: Option<&'static str>,
    pub direction: Option<&'static str>,
    /// JSON text of a list of strings.
    pub tags: String,
    pub uploaded_by: Option<&'static str>,
    pub created_at: i64,
}

const STAFF: &[&str] = &[
    "anna.keller",
    "ben.meier",
    "carla.roth",
    "dev.patel",
    "elif.yilmaz",
];

const WORDS: &[&str] = &[
    "the",
    "order",
    "delivery",
    "Angebot",
    "invoice",
    "thanks",
    "please",
    "tomorrow",
    "Montag",
    "kitchen",
    "cabinet",
    "measurements",
    "we",
    "can",
    "confirm",
    "appointment",
    "at",
    "9:30",
    "and",
    "will",
    "send",
    "the",
    "updated",
    "quote",
    "by",
    "Friday",
    "Grüße",
    "regarding",
    "your",
    "request",
    "the",
    "worktop",
    "oak",
    "colour",
    "sample",
    "arrived",
    "damaged",
    "photo",
    "attached",
    "Rechnung",
    "Lieferung",
    "next",
    "week",
    "installation",
    "team",
    "parking",
    "access",
    "is",
    "fine",
    "via",
    "the",
    "courtyard",
    "price",
    "includes",
    "VAT",
    "deposit",
    "of",
    "30%",
    "received",
    "balance",
    "due",
    "on",
    "completion",
    "Küche",
    "Maße",
    "sind",
    "korrekt",
    "bitte",
    "bestätigen",
    "Termin",
    "für",
    "den",
    "Aufmaß",
    "handles",
    "hinges",
    "drawer",
    "soft-close",
    "replacement",
    "warranty",
    "claim",
    "called",
    "back",
    "left",
    "voicemail",
    "customer",
    "prefers",
    "email",
    "no",
    "issues",
    "so",
    "far",
    "schedule",
];

/// A word of the bodies' vocabulary to search for: letters only, four or more of them.
/// (The list is made once: the client draws a word per request on the server's cores.)
pub fn search_word(rng: &mut Rng) -> &'static str {
    static SEARCHABLE: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let words = SEARCHABLE.get_or_init(|| {
        WORDS
            .iter()
            .copied()
            .filter(|w| w.chars().count() >= 4 && w.chars().all(char::is_alphabetic))
            .collect()
    });
    words[rng.below(words.len() as u64) as usize]
}

const SUBJECT_WORDS: &[&str] = &[
    "Quote",
    "Order",
    "Delivery",
    "Invoice",
    "Appointment",
    "Kitchen",
    "Worktop",
    "Angebot",
    "Rechnung",
    "Termin",
    "Reklamation",
    "Installation",
    "update",
    "question",
    "confirmation",
    "photos",
    "measurements",
    "change",
    "request",
    "follow-up",
    "Lieferung",
    "Küche",
];

const TAGS: &[&str] = &[
    "foto",
    "rechnung",
    "lieferschein",
    "reklamation",
    "angebot",
    "skizze",
    "montage",
    "vorher",
    "nachher",
    "aufmaß",
];

/// Words up to `target` bytes; with `prose`, also sentence breaks and paragraphs.
fn text(rng: &mut Rng, words: &[&str], target: usize, prose: bool) -> String {
    let mut out = String::with_capacity(target + 16);
    while out.len() < target {
        if !out.is_empty() {
            // An occasional sentence break or paragraph, as real messages have.
            match if prose { rng.below(16) } else { 15 } {
                0 => out.push_str(".\n\n"),
                1 | 2 => out.push_str(". "),
                3 => out.push_str(", "),
                _ => out.push(' '),
            }
        }
        out.push_str(rng.pick::<&str>(words));
    }
    out
}

/// (type, share in percent, body length range)
const TYPES: &[(&str, u64, (u64, u64))] = &[
    ("email", 35, (280, 560)),
    ("whatsapp", 20, (30, 150)),
    ("call", 15, (50, 200)),
    ("sms", 10, (20, 140)),
    ("note", 12, (50, 250)),
    ("in_person", 8, (60, 250)),
];

/// The comms, oldest first, spread evenly (with jitter) over two years.
pub struct Comms {
    params: Params,
    rng: Rng,
    next: u64,
}

pub fn comms(params: Params) -> Comms {
    Comms {
        params,
        rng: Rng::new(params.seed.wrapping_mul(31).wrapping_add(1)),
        next: 0,
    }
}

impl Iterator for Comms {
    type Item = Comm;

    fn next(&mut self) -> Option<Comm> {
        if self.next >= self.params.comms {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let rng = &mut self.rng;
        let step = SPAN_MICROS / self.params.comms as i64;
        let occurred_at = START_MICROS + i as i64 * step + rng.below(step.max(1) as u64) as i64;
        // Logged a few seconds to two hours later; sometimes days later.
        let delay = if rng.percent(10) {
            rng.between(3_600, 3 * 86_400)
        } else {
            rng.between(2, 7_200)
        };
        let created_at = occurred_at + (delay * 1_000_000 + rng.below(1_000_000)) as i64;
        let customer = rng.below(self.params.customers);

        let mut roll = rng.below(100);
        let mut chosen = TYPES[0];
        for t in TYPES {
            if roll < t.1 {
                chosen = *t;
                break;
            }
            roll -= t.1;
        }
        let (kind, _, (lo, hi)) = chosen;
        let direction = match kind {
            "note" => {
                if rng.percent(85) {
                    "internal"
                } else {
                    *rng.pick(&["inbound", "outbound"])
                }
            }
            _ => match rng.below(100) {
                0..=46 => "inbound",
                47..=93 => "outbound",
                _ => "internal",
            },
        };
        let subject_null = match kind {
            "email" => 5,
            "whatsapp" | "sms" => 70,
            _ => 30,
        };
        let subject = (!rng.percent(subject_null)).then(|| {
            let target = rng.between(30, 46) as usize;
            text(rng, SUBJECT_WORDS, target, false)
        });
        let body = (!rng.percent(3)).then(|| {
            let target = rng.between(lo, hi) as usize;
            text(rng, WORDS, target, true)
        });
        let cust = customer_id(customer);
        let attachments_n = match rng.below(100) {
            0..=69 => 0,
            70..=91 => 1,
            _ => 2,
        };
        let mut attachments = String::from("[");
        for k in 0..attachments_n {
            let n = rng.below(10_000);
            let filename = match rng.below(3) {
                0 => format!("IMG_{n:04}.jpg"),
                1 => format!("Angebot-{n:04}.pdf"),
                _ => format!("scan_{n:04}.pdf"),
            };
            if k > 0 {
                attachments.push(',');
            }
            // Same shape as serde_json::to_string of the server's `Attachments`.
            attachments.push_str(&format!(
                r#"{{"filename":"{filename}","nextcloud_path":"/CRM/Kunden/{cust}/{filename}"}}"#
            ));
        }
        attachments.push(']');
        let ext_message_id = match kind {
            "email" => Some(format!(
                "<{:016x}.{:08x}@mail.example.com>",
                rng.next_u64(),
                rng.next_u64() as u32
            )),
            "whatsapp" => Some(format!("wamid.HBgM{:020X}", rng.next_u64())),
            _ => None,
        };
        let logged_by = (!rng.percent(10)).then(|| *rng.pick(STAFF));
        let id = uuid_v7(rng, created_at);
        Some(Comm {
            id,
            customer_id: cust,
            kind,
            direction,
            subject,
            body,
            attachments,
            ext_message_id,
            logged_by,
            occurred_at,
            created_at,
        })
    }
}

/// The media, oldest first: ~90% belong to an order (and its customer), ~8% only to a
/// customer, the rest to neither.
pub struct MediaGen {
    params: Params,
    rng: Rng,
    next: u64,
}

pub fn media(params: Params) -> MediaGen {
    MediaGen {
        params,
        rng: Rng::new(params.seed.wrapping_mul(131).wrapping_add(7)),
        next: 0,
    }
}

impl Iterator for MediaGen {
    type Item = Media;

    fn next(&mut self) -> Option<Media> {
        if self.next >= self.params.media {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let p = self.params;
        let rng = &mut self.rng;
        let step = SPAN_MICROS / p.media as i64;
        let created_at = START_MICROS + i as i64 * step + rng.below(step.max(1) as u64) as i64;
        let (customer, order) = match rng.below(100) {
            0..=89 if p.orders > 0 => {
                let o = rng.below(p.orders);
                (Some(p.customer_of_order(o)), Some(o))
            }
            0..=97 => (Some(rng.below(p.customers)), None),
            _ => (None, None),
        };
        let n = rng.below(100_000);
        let (mime, filename) = match rng.below(100) {
            0..=54 => (Some("image/jpeg"), format!("IMG_{n:05}.jpg")),
            55..=69 => (Some("image/png"), format!("Screenshot_{n:05}.png")),
            70..=87 => (Some("application/pdf"), format!("Lieferschein-{n:05}.pdf")),
            88..=94 => (Some("video/mp4"), format!("VID_{n:05}.mp4")),
            _ => (None, format!("scan-{n:05}.tif")),
        };
        let folder = match (customer, order) {
            (Some(c), Some(o)) => format!("/CRM/Kunden/{}/{}", customer_id(c), order_id(o)),
            (Some(c), None) => format!("/CRM/Kunden/{}", customer_id(c)),
            _ => "/CRM/Eingang".to_owned(),
        };
        let direction = match rng.below(100) {
            0..=49 => Some("received"),
            50..=79 => Some("sent"),
            80..=91 => Some("internal"),
            _ => None,
        };
        let mut tags = String::from("[");
        for k in 0..rng.below(4) {
            if k > 0 {
                tags.push(',');
            }
            tags.push('"');
            tags.push_str(rng.pick::<&str>(TAGS));
            tags.push('"');
        }
        tags.push(']');
        let uploaded_by = (!rng.percent(15)).then(|| *rng.pick(STAFF));
        let id = uuid_v7(rng, created_at);
        Some(Media {
            id,
            customer_id: customer.map(customer_id),
            order_id: order.map(order_id),
            nextcloud_path: format!("{folder}/{filename}"),
            filename,
            mime_type: mime,
            direction,
            tags,
            uploaded_by,
            created_at,
        })
    }
}
