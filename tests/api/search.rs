//! Full-text search, `CommFilter.search` (a comm's subject and body) and `MediaFilter.search`
//! (a media item's filename and tags), on every backend alike: whole words and prefixes, case
//! and accents (NFKD, marks dropped, `ß`/`æ`/`œ`/`ø`/`ł`/`đ`/`þ` folded), phrases, words AND-ed,
//! every other filter AND-ed, `totalCount`, keyset walks both ways over the matches (in the
//! normal order, no relevance), characters that mean something to FTS5, `tsquery`, MySQL's
//! boolean mode, `LIKE` or SQL (each only separates words), searches refused with
//! BAD_USER_INPUT (no word, too long, too many words), the index after
//! creates, updates, deletes and `ingestComms`, and on SQLite rows Python's `sqlite3` writes
//! while the server runs or before it first starts.
//!
//! The expected rows are written out by hand for a small corpus (keys such as `q1` stand for
//! the ids the server gives); the order of an answer is computed here from the rows' times and
//! ids. No expectation relies on a phrase running from the subject into the body (or from the
//! filename into a tag, or from one tag into the next): the contract leaves that open.

use crate::common::{
    Backend, TestApp, backend_tests, bundled_integrity, error_code, system_integrity,
    system_sqlite, try_system_sqlite,
};
use crate::connections::{
    Book, Conn, Item, PageArgs, at, check, comm_item, document, media_item, newest_first, output,
    rejected_page, walk, windows,
};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------------

/// A comm of the corpus: key, customer, type, direction, subject, body, and its `occurredAt` in
/// seconds after [`at`]'s origin (`w2` and `w3` share one instant).
type CommRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    i64,
);

/// A media item of the corpus: key, customer, MIME type, filename, tags (created in this order,
/// so later is newer).
type MediaRow = (
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static [&'static str],
);

#[rustfmt::skip]
const COMMS: &[CommRow] = &[
    ("q1", "c1", "EMAIL", "INBOUND", Some("Quote for the kitchen"), Some("Please find the quote attached. The delivery window is 9:30 to 11:00."), 100),
    ("q2", "c1", "EMAIL", "OUTBOUND", Some("Re: Quote for the kitchen"), Some("Thanks, the delivery window suits us."), 200),
    ("q3", "c2", "EMAIL", "INBOUND", Some("QUOTATION"), Some("Quotations for soft-close hinges."), 300),
    ("m1", "c1", "CALL", "OUTBOUND", Some("Angebot für Müller GmbH"), Some("Herr Müller bestätigt."), 400),
    ("m2", "c2", "CALL", "INBOUND", Some("Muller"), Some("Spoke to Mr. MULLER about the order."), 500),
    ("k1", "c1", "NOTE", "INTERNAL", None, Some("Café Zoë, and a cafe\u{301} au lait"), 600),
    ("w1", "c1", "NOTE", "INTERNAL", Some("Window delivery"), Some("The window delivery was late."), 700),
    ("w2", "c2", "SMS", "INBOUND", Some("Delivery of the window"), Some("see you"), 800),
    ("w3", "c1", "SMS", "OUTBOUND", Some("Delivery windows"), Some("two delivery windows offered"), 800),
    ("f1", "c2", "NOTE", "INTERNAL", Some("foo bar"), Some("baz"), 900),
    ("f2", "c2", "NOTE", "INTERNAL", Some("foo or bar"), None, 1000),
    ("f3", "c2", "NOTE", "INTERNAL", Some("Foo, ORBIT, bar"), Some("Notes"), 1100),
    ("p1", "c1", "EMAIL", "INBOUND", Some("Payment received"), Some("100% paid, thanks"), 1200),
    ("p2", "c1", "WHATSAPP", "INBOUND", Some("Payment"), Some("is 100 percent paid?"), 1300),
    ("o1", "c2", "CALL", "INBOUND", Some("O'Brien called"), Some("call back"), 1400),
    ("o2", "c2", "CALL", "INBOUND", Some("Note"), Some("ask o brien"), 1500),
    ("o3", "c2", "CALL", "INBOUND", Some("Obrien"), None, 1600),
    ("s1", "c1", "NOTE", "INTERNAL", Some("subject: quote"), None, 1700),
    ("u1", "c1", "NOTE", "INTERNAL", Some("a_b test"), Some("see IMG_0042.jpg; e-mail sent"), 1800),
    ("h1", "c1", "NOTE", "INTERNAL", Some("Straße, Ærø, Œuvre"), Some("Søren Łukasz Đorđe Þór"), 1900),
    ("h2", "c2", "NOTE", "INTERNAL", Some("strasse aero oeuvre"), Some("soren lukasz dorde thor"), 2000),
    ("n1", "c1", "EMAIL", "INBOUND", Some("ＦＵＬＬＷＩＤＴＨ ﬁle"), Some("NEAR the kitchen, NOT now"), 2100),
    ("x1", "c1", "NOTE", "INTERNAL", Some("(paren) [bracket] {brace}"), Some("x^2 + y; a\\b; 50$ #tag @home ~tilde |pipe| <angle> &amp"), 2200),
];
#[rustfmt::skip]
const MEDIA: &[MediaRow] = &[
    ("md1", Some("c1"), "image/jpeg", "IMG_0042.jpg", &["foto"]),
    ("md2", Some("c1"), "application/pdf", "Aufmaß Küche.pdf", &["aufmaß", "Küche"]),
    ("md3", Some("c2"), "application/pdf", "invoice_2025-0142.pdf", &["Invoice", "paid"]),
    ("md4", Some("c2"), "image/png", "photo damaged box.png", &["warranty claim"]),
    ("md5", Some("c1"), "image/png", "img0042.png", &[]),
    ("md6", None, "application/zip", "Fotoalbum.zip", &["Urlaub 2025"]),
    ("md7", Some("c1"), "text/plain", "Grüße.txt", &["O'Brien", "100%"]),
];

/// Searches of the comms corpus and the rows each finds (any order here; the answer is checked
/// in the normal order).
const COMM_SEARCHES: &[(&str, &[&str])] = &[
    ("quot", &["q1", "q2", "q3", "s1"]),
    ("quote", &["q1", "q2", "s1"]),
    ("QUOTE", &["q1", "q2", "s1"]),
    ("Quote", &["q1", "q2", "s1"]),
    ("qUoTaTiOn", &["q3"]),
    ("quotations", &["q3"]),
    ("quotationsx", &[]),
    ("kit", &["n1", "q1", "q2"]),
    ("kitchenette", &[]),
    ("muller", &["m1", "m2"]),
    ("MULLER", &["m1", "m2"]),
    ("Müller", &["m1", "m2"]),
    ("MÜLLER", &["m1", "m2"]),
    ("mül", &["m1", "m2"]),
    ("mul", &["m1", "m2"]),
    ("Mueller", &[]),
    ("cafe", &["k1"]),
    ("café", &["k1"]),
    ("CAFÉ", &["k1"]),
    ("cafe\u{301}", &["k1"]),
    ("CAFE\u{301}", &["k1"]),
    ("zoe", &["k1"]),
    ("Zoë", &["k1"]),
    ("ZOË", &["k1"]),
    ("bestatigt", &["m1"]),
    ("bestätigt", &["m1"]),
    ("fur", &["m1"]),
    ("für", &["m1"]),
    ("strasse", &["h1", "h2"]),
    ("Straße", &["h1", "h2"]),
    ("STRASSE", &["h1", "h2"]),
    ("straße", &["h1", "h2"]),
    ("strass", &["h1", "h2"]),
    ("aero", &["h1", "h2"]),
    ("Ærø", &["h1", "h2"]),
    ("ÆRØ", &["h1", "h2"]),
    ("oeuvre", &["h1", "h2"]),
    ("Œuvre", &["h1", "h2"]),
    ("soren", &["h1", "h2"]),
    ("Søren", &["h1", "h2"]),
    ("lukasz", &["h1", "h2"]),
    ("Łukasz", &["h1", "h2"]),
    ("dorde", &["h1", "h2"]),
    ("Đorđe", &["h1", "h2"]),
    ("thor", &["h1", "h2"]),
    ("Þór", &["h1", "h2"]),
    ("THOR", &["h1", "h2"]),
    ("fullwidth", &["n1"]),
    ("ＦＵＬＬＷＩＤＴＨ", &["n1"]),
    ("ｆｕｌｌ", &["n1"]),
    ("file", &["n1"]),
    ("ﬁle", &["n1"]),
    ("FILE", &["n1"]),
    ("\"delivery window\"", &["q1", "q2", "w3"]),
    ("\"window delivery\"", &["w1"]),
    ("\"delivery win\"", &["q1", "q2", "w3"]),
    ("\"deliv window\"", &[]),
    ("\"delivery of the window\"", &["w2"]),
    ("\"of the\"", &["w2"]),
    ("\"DELIVERY WINDOW\"", &["q1", "q2", "w3"]),
    ("\"the quote attached\"", &["q1"]),
    ("\"quote attached\"", &["q1"]),
    ("delivery window", &["q1", "q2", "w1", "w2", "w3"]),
    ("window delivery", &["q1", "q2", "w1", "w2", "w3"]),
    ("kitchen quote", &["q1", "q2"]),
    ("quote kitchen thanks", &["q2"]),
    ("quote zebra", &[]),
    ("the window late", &["w1"]),
    ("delivery \"window delivery\"", &["w1"]),
    ("zebra", &[]),
];

/// Searches with characters that mean something to FTS5, `tsquery`, MySQL's boolean mode, `LIKE`
/// or SQL: each is only a separator here, so each finds what its words find.
const COMM_SPECIALS: &[(&str, &[&str])] = &[
    ("quo*", &["q1", "q2", "q3", "s1"]),
    ("*quote*", &["q1", "q2", "s1"]),
    ("quote*", &["q1", "q2", "s1"]),
    ("\"quote\"", &["q1", "q2", "s1"]),
    ("'quote'", &["q1", "q2", "s1"]),
    ("100%", &["p1", "p2"]),
    ("%paid", &["p1", "p2"]),
    ("paid%", &["p1", "p2"]),
    ("-quote", &["q1", "q2", "s1"]),
    ("quote -kitchen", &["q1", "q2"]),
    ("quote - kitchen", &["q1", "q2"]),
    ("--quote", &["q1", "q2", "s1"]),
    ("subject:quote", &["s1"]),
    ("subject: quote", &["s1"]),
    ("body:quote", &[]),
    ("{subject}: quote", &["s1"]),
    ("{subject body}:quote", &[]),
    ("a_b", &["u1", "x1"]),
    ("A_B", &["u1", "x1"]),
    ("O'Brien", &["o1", "o2"]),
    ("o'brien", &["o1", "o2"]),
    ("o brien", &["o1", "o2"]),
    ("\"o brien\"", &["o1", "o2"]),
    ("obrien", &["o3"]),
    ("foo OR bar", &["f2", "f3"]),
    ("foo or bar", &["f2", "f3"]),
    ("foo AND bar", &[]),
    ("foo NOT bar", &["f3"]),
    ("foo bar", &["f1", "f2", "f3"]),
    ("NOT foo", &["f3"]),
    ("OR", &["f2", "f3", "m2"]),
    ("AND", &["k1"]),
    ("NEAR", &["n1"]),
    ("NEAR(the kitchen)", &["n1"]),
    ("NEAR(kitchen the)", &[]),
    ("NEAR/2 quote", &[]),
    ("quote^", &["q1", "q2", "s1"]),
    ("^quote", &["q1", "q2", "s1"]),
    ("+quote", &["q1", "q2", "s1"]),
    ("quote+kitchen", &[]),
    ("(quote)", &["q1", "q2", "s1"]),
    ("(quote OR kitchen)", &[]),
    ("\\quote", &["q1", "q2", "s1"]),
    ("quote\\", &["q1", "q2", "s1"]),
    ("quote;", &["q1", "q2", "s1"]),
    ("quote --", &["q1", "q2", "s1"]),
    ("quote /* x */", &[]),
    ("quote' OR '1'='1", &[]),
    ("'; DROP TABLE crm_comms_log; --", &[]),
    ("quote\u{0}", &["q1", "q2", "s1"]),
    ("\u{0}quote", &["q1", "q2", "s1"]),
    ("x^2", &["x1"]),
    ("#tag", &["x1"]),
    ("@home", &["x1"]),
    ("~tilde", &["x1"]),
    ("|pipe|", &["x1"]),
    ("<angle>", &["x1"]),
    ("&amp", &["x1"]),
    ("[bracket]", &["x1"]),
    ("50$", &["x1"]),
    ("$1", &["p1", "p2", "q1"]),
    ("quote?", &["q1", "q2", "s1"]),
    ("9:30", &["q1"]),
    ("9.30", &["q1"]),
    ("930", &[]),
    ("11:00", &["q1"]),
    ("9:30 11:00", &["q1"]),
    ("\"9 30\"", &["q1"]),
    ("e-mail", &["u1"]),
    ("email", &[]),
    ("soft-close", &["q3"]),
    ("close-soft", &[]),
    ("soft close", &["q3"]),
    ("SOFT-CLOSE", &["q3"]),
    ("IMG_0042.jpg", &["u1"]),
    ("img_0042", &["u1"]),
    ("0042.jpg", &["u1"]),
    ("\"delivery window", &["q1", "q2", "w3"]),
    ("kitchen \"delivery window", &["q1", "q2"]),
    ("\"window delivery", &["w1"]),
    ("\"delivery\" \"window\"", &["q1", "q2", "w1", "w2", "w3"]),
    ("\"\"delivery window\"\"", &["q1", "q2", "w1", "w2", "w3"]),
    ("delivery\"window\"", &["q1", "q2", "w1", "w2", "w3"]),
    ("\"delivery window\"\"", &["q1", "q2", "w3"]),
    (">quote", &["q1", "q2", "s1"]),
    ("<quote", &["q1", "q2", "s1"]),
    ("~quote", &["q1", "q2", "s1"]),
    ("quote@2", &[]),
    ("\"quote kitchen\"@3", &[]),
    ("quote & kitchen", &["q1", "q2"]),
    ("quote | kitchen", &["q1", "q2"]),
    ("!quote", &["q1", "q2", "s1"]),
    ("quote <-> for", &["q1", "q2"]),
    ("quote:*", &["q1", "q2", "s1"]),
    ("quot:*", &["q1", "q2", "q3", "s1"]),
    ("quote:A", &["q1"]),
    ("q%e", &[]),
    ("_uote", &[]),
    ("qu_te", &[]),
    ("quo%", &["q1", "q2", "q3", "s1"]),
    ("quo?e", &[]),
    ("quot[e]", &[]),
    ("quo.e", &[]),
    ("é", &["u1"]),
    ("e\u{301}", &["u1"]),
    ("´e", &["u1"]),
    ("`quote`", &["q1", "q2", "s1"]),
    ("quote,kitchen", &[]),
    ("quote.kitchen", &[]),
];

/// Searches of the media corpus (filename and tags) and the items each finds.
const MEDIA_SEARCHES: &[(&str, &[&str])] = &[
    ("foto", &["md1", "md6"]),
    ("FOTO", &["md1", "md6"]),
    ("fotos", &[]),
    ("fotoalbum", &["md6"]),
    ("aufmass", &["md2"]),
    ("Aufmaß", &["md2"]),
    ("AUFMASS", &["md2"]),
    ("aufma", &["md2"]),
    ("kuche", &["md2"]),
    ("Küche", &["md2"]),
    ("KÜCHE", &["md2"]),
    ("img", &["md1", "md5"]),
    ("IMG", &["md1", "md5"]),
    ("0042", &["md1"]),
    ("jpg", &["md1"]),
    ("img_0042", &["md1"]),
    ("IMG_0042.jpg", &["md1"]),
    ("img0042", &["md5"]),
    ("0042.jpg", &["md1"]),
    ("img 0042", &["md1"]),
    ("\"img 0042\"", &["md1"]),
    ("\"0042 img\"", &[]),
    ("invoice 2025", &["md3"]),
    ("2025", &["md3", "md6"]),
    ("\"invoice 2025 0142\"", &["md3"]),
    ("invoice-2025", &["md3"]),
    ("invoice_2025-0142.pdf", &["md3"]),
    ("pdf", &["md2", "md3"]),
    ("paid", &["md3"]),
    ("invoice paid", &["md3"]),
    ("warranty", &["md4"]),
    ("\"warranty claim\"", &["md4"]),
    ("claim warranty", &["md4"]),
    ("\"claim warranty\"", &[]),
    ("O'Brien", &["md7"]),
    ("obrien", &[]),
    ("100%", &["md7"]),
    ("grusse", &["md7"]),
    ("Grüße", &["md7"]),
    ("urlaub", &["md6"]),
    ("zebra", &[]),
    ("p", &["md2", "md3", "md4", "md5"]),
];

/// Special characters in media searches.
const MEDIA_SPECIALS: &[(&str, &[&str])] = &[
    ("foto*", &["md1", "md6"]),
    ("*foto", &["md1", "md6"]),
    ("\"foto\"", &["md1", "md6"]),
    ("'foto'", &["md1", "md6"]),
    ("-foto", &["md1", "md6"]),
    ("foto -img", &["md1"]),
    ("foto OR img", &[]),
    ("foto AND", &[]),
    ("NOT foto", &[]),
    ("(foto)", &["md1", "md6"]),
    ("foto^", &["md1", "md6"]),
    ("+foto", &["md1", "md6"]),
    ("\\foto", &["md1", "md6"]),
    ("foto;", &["md1", "md6"]),
    ("foto\u{0}", &["md1", "md6"]),
    ("img*0042", &["md1"]),
    ("img-0042", &["md1"]),
    ("img:0042", &["md1"]),
    ("IMG_0042", &["md1"]),
    ("\"img_0042.jpg\"", &["md1"]),
    ("img%0042", &["md1"]),
    ("img.0042", &["md1"]),
    ("0042.JPG", &["md1"]),
    ("%0042", &["md1"]),
    ("_0042", &["md1"]),
    ("img_", &["md1", "md5"]),
    ("0042_", &["md1"]),
    ("O'Brien", &["md7"]),
    ("o brien", &["md7"]),
    ("'brien", &["md7"]),
    ("100%", &["md7"]),
    ("100", &["md7"]),
    ("%100", &["md7"]),
    ("aufmaß*", &["md2"]),
    ("küche:*", &["md2"]),
    ("{Küche}", &["md2"]),
    ("[foto]", &["md1", "md6"]),
    ("tags:foto", &[]),
    ("filename:foto", &[]),
    ("invoice_2025-0142", &["md3"]),
    ("2025-0142", &["md3"]),
    ("\"2025 0142\"", &["md3"]),
    ("'; DROP TABLE crm_media; --", &[]),
];

/// Searches without a word: BAD_USER_INPUT.
const NO_WORDS: &[&str] = &[
    "", "   ", "\t\n", "*", "%", "-", "\"", "\"\"", "\"  \"", "()", "_", "'", ":", "^", "+", "{}",
    "\\", "*:*", ".*", "--", "-- ;", "\u{301}", "\u{0}", "—", "'\"'\"'", "()\"\"*", "/", "?",
    "\\%", "%%", "\\_",
];

/// The corpus as created: each row's key and the server's answer to its creation.
struct Corpus {
    comms: Vec<(&'static str, Value)>,
    media: Vec<(&'static str, Value)>,
}

impl Corpus {
    fn rows(&self, conn: Conn) -> &[(&'static str, Value)] {
        match conn {
            Conn::Comms => &self.comms,
            Conn::Media => &self.media,
            Conn::Timeline => panic!("the timeline has no search"),
        }
    }

    /// The rows `keys`, newest first (the order of every answer).
    fn items(&self, conn: Conn, keys: &[&str]) -> Vec<Item> {
        let items = keys
            .iter()
            .map(|key| {
                let (_, row) = self
                    .rows(conn)
                    .iter()
                    .find(|(k, _)| k == key)
                    .unwrap_or_else(|| panic!("{key} is not in the corpus"));
                match conn {
                    Conn::Media => media_item(row),
                    _ => comm_item(row),
                }
            })
            .collect();
        newest_first(items)
    }

    /// The key of the row `id` (the id itself for a row not in the corpus).
    fn key(&self, conn: Conn, id: &str) -> String {
        self.rows(conn)
            .iter()
            .find(|(_, row)| row["id"] == id)
            .map_or_else(|| id.to_owned(), |(key, _)| (*key).to_owned())
    }

    /// The keys of `items`, in their order.
    fn keys(&self, conn: Conn, items: &[Item]) -> Vec<String> {
        items.iter().map(|i| self.key(conn, &i.id)).collect()
    }
}

/// Creates the corpus through the API. Fields that are not searched carry words of their own:
/// `q1`'s attachment is `zebra.pdf` and it was logged by `yankee`; every media item is under
/// `/CRM/zebra/` and uploaded by `yankee`.
async fn seed(app: &TestApp) -> Corpus {
    let mut comms = Vec::new();
    for &(key, customer, kind, direction, subject, body, seconds) in COMMS {
        let mut input = json!({
            "customerId": customer, "type": kind, "direction": direction, "subject": subject,
            "body": body, "occurredAt": output(at(seconds, 0)),
        });
        if key == "q1" {
            input["attachments"] =
                json!([{ "filename": "zebra.pdf", "nextcloudPath": "/zebra.pdf" }]);
            input["loggedBy"] = json!("yankee");
        }
        comms.push((key, app.create_comm(input).await));
    }
    let mut media = Vec::new();
    for &(key, customer, mime, filename, tags) in MEDIA {
        let input = json!({
            "customerId": customer, "mimeType": mime, "filename": filename,
            "nextcloudPath": format!("/CRM/zebra/{filename}"), "tags": tags, "uploadedBy": "yankee",
        });
        media.push((key, app.create_media(input).await));
    }
    Corpus { comms, media }
}

// ---------------------------------------------------------------------------------------------
// Asking
// ---------------------------------------------------------------------------------------------

/// POSTs a GraphQL operation: the HTTP status and the JSON body (whatever the status).
async fn post(app: &TestApp, doc: &str, vars: &Value) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": doc, "variables": vars }))
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "not JSON": text }));
    (status, body)
}

/// What a search page asks for.
const FOUND: &str = "totalCount nodes { id } pageInfo { hasNextPage hasPreviousPage }";

/// `conn`'s answer to `filter` in one page of 500: the ids in order (with `totalCount` and the
/// page info checked), or the body of an error answer. An answer other than 200, or an
/// INTERNAL_SERVER_ERROR, fails here.
async fn search(app: &TestApp, conn: Conn, filter: &Value) -> Result<Vec<String>, Value> {
    let mut args = conn.filter(filter.clone());
    args.extend(PageArgs::first(500).args());
    let (doc, vars) = document(conn.field(), &args, FOUND);
    let (status, body) = post(app, &doc, &vars).await;
    let context = format!("{} {}", conn.field(), filter);
    if body.get("errors").is_some() {
        let code = &body["errors"][0]["extensions"]["code"];
        assert_ne!(code, "INTERNAL_SERVER_ERROR", "{context}: {body}");
        if code != "NOT_READY" {
            assert_eq!(status, 200, "{context}: {body}");
        }
        return Err(body);
    }
    assert_eq!(status, 200, "{context}: {body}");
    let page = &body["data"][conn.field()];
    let ids: Vec<String> = page["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("no nodes: {context}: {body}"))
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        page["totalCount"].as_u64(),
        Some(ids.len() as u64),
        "totalCount of {context}: {body}"
    );
    assert_eq!(
        page["pageInfo"],
        json!({ "hasNextPage": false, "hasPreviousPage": false }),
        "{context}: {body}"
    );
    Ok(ids)
}

/// `filter` with `search` set to `q`.
fn with_search(mut filter: Value, q: &str) -> Value {
    filter["search"] = json!(q);
    filter
}

/// Asserts that `conn` with `filter` finds exactly the corpus rows `keys`, newest first.
async fn finds(app: &TestApp, corpus: &Corpus, conn: Conn, filter: Value, keys: &[&str]) {
    let want = corpus.keys(conn, &corpus.items(conn, keys));
    let got = search(app, conn, &filter)
        .await
        .unwrap_or_else(|body| panic!("{} {filter} is refused: {body}", conn.field()));
    let got: Vec<String> = got.iter().map(|id| corpus.key(conn, id)).collect();
    assert_eq!(got, want, "{} {filter}", conn.field());
}

/// Like [`finds`], but a search holding a control character may instead be refused as
/// BAD_USER_INPUT naming `filter.search` (as other inputs refuse control characters).
async fn finds_or_refused(app: &TestApp, corpus: &Corpus, conn: Conn, q: &str, keys: &[&str]) {
    let filter = json!({ "search": q });
    if q.chars().any(char::is_control)
        && let Err(body) = search(app, conn, &filter).await
    {
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{filter}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "filter.search",
            "{filter}: {body}"
        );
        return;
    }
    finds(app, corpus, conn, filter, keys).await;
}

/// Asserts that `conn` refuses the search `q` (and `q` with another filter, and with `last`)
/// as BAD_USER_INPUT naming `filter.search`, with no data.
async fn refused(app: &TestApp, conn: Conn, q: &str) {
    let other = match conn {
        Conn::Comms => json!({ "customerId": "c1", "types": ["EMAIL"] }),
        _ => json!({ "customerId": "c1", "mimeTypePrefix": "image/" }),
    };
    for (filter, page) in [
        (json!({ "search": q }), PageArgs::first(5)),
        (json!({ "search": q }), PageArgs::last(5)),
        (with_search(other, q), PageArgs::default()),
    ] {
        rejected_page(app, conn, &conn.filter(filter), &page, "filter.search").await;
    }
}

// ---------------------------------------------------------------------------------------------
// Tests on every backend
// ---------------------------------------------------------------------------------------------

/// The comms corpus: prefixes, case, accents both ways, hand-folded letters, compatibility
/// forms, phrases (adjacent, in order, the last word a prefix, not across other words), words
/// AND-ed, search AND-ed with every other filter, fields that are not searched, `totalCount`,
/// and pages of 2 walked forward (`first`/`after`) and back (`last`/`before`) over the matches
/// against the whole ordered list.
async fn comms_corpus(app: &TestApp) {
    let corpus = seed(app).await;
    for &(q, keys) in COMM_SEARCHES {
        finds(app, &corpus, Conn::Comms, json!({ "search": q }), keys).await;
    }

    // With every other filter.
    let range = |from: i64, until: i64| {
        let (from, until) = (output(at(from, 0)), output(at(until, 0)));
        json!({ "from": from, "until": until })
    };
    let combined: [(Value, &str, &[&str]); 16] = [
        (
            json!({ "customerId": "c1" }),
            "delivery",
            &["q1", "q2", "w1", "w3"],
        ),
        (json!({ "customerId": "c2" }), "delivery", &["w2"]),
        (json!({ "customerId": "c2" }), "kitchen", &[]),
        (json!({ "customerId": "nobody" }), "quote", &[]),
        (json!({ "types": ["SMS"] }), "delivery", &["w2", "w3"]),
        (
            json!({ "customerId": "c1", "types": ["EMAIL", "SMS"] }),
            "delivery",
            &["q1", "q2", "w3"],
        ),
        (
            json!({ "customerId": "c1", "types": ["EMAIL", "SMS"] }),
            "\"delivery window\"",
            &["q1", "q2", "w3"],
        ),
        (
            json!({ "customerId": "c2", "types": ["CALL"] }),
            "muller",
            &["m2"],
        ),
        (json!({ "directions": ["INBOUND"] }), "quote", &["q1"]),
        (json!({ "directions": ["OUTBOUND"] }), "the", &["q2"]),
        (json!({ "hasAttachments": true }), "quote", &["q1"]),
        (json!({ "hasAttachments": false }), "quote", &["q2", "s1"]),
        (
            json!({ "occurredAt": range(500, 1300) }),
            "the",
            &["m2", "w1", "w2"],
        ),
        (
            json!({ "occurredAt": range(800, 801) }),
            "delivery",
            &["w2", "w3"],
        ),
        (json!({ "loggedBy": "yankee" }), "kitchen", &["q1"]),
        (
            json!({ "customerId": "c1", "types": ["EMAIL"], "directions": ["INBOUND", "OUTBOUND"],
                "occurredAt": range(0, 150), "hasAttachments": true, "loggedBy": "yankee" }),
            "\"delivery win\" quot",
            &["q1"],
        ),
    ];
    for (filter, q, keys) in combined {
        finds(app, &corpus, Conn::Comms, with_search(filter, q), keys).await;
    }

    // Only the subject and the body are searched: not the attachments' names, `loggedBy`, the
    // customer, the channel, the direction or the time.
    for q in ["zebra", "yankee", "c1", "email", "inbound", "2026"] {
        finds(app, &corpus, Conn::Comms, json!({ "search": q }), &[]).await;
    }
    // `search: null` is no search.
    let all: Vec<&str> = COMMS.iter().map(|c| c.0).collect();
    finds(app, &corpus, Conn::Comms, json!({ "search": null }), &all).await;

    // Pages of 2 both ways, and windows between cursors, over the matches.
    for (filter, keys) in [
        (
            json!({ "search": "the" }),
            &["m2", "n1", "q1", "q2", "w1", "w2"][..],
        ),
        (
            json!({ "search": "THE", "customerId": "c1" }),
            &["n1", "q1", "q2", "w1"][..],
        ),
        (
            json!({ "search": "delivery" }),
            &["q1", "q2", "w1", "w2", "w3"][..],
        ),
    ] {
        let rows = corpus.items(Conn::Comms, keys);
        let args = Conn::Comms.filter(filter);
        let mut book = Book::default();
        walk(app, Conn::Comms, &args, &rows, 2, true, &mut book).await;
        walk(app, Conn::Comms, &args, &rows, 2, false, &mut book).await;
        windows(app, Conn::Comms, &args, &rows, &mut book).await;
        // `totalCount` counts every match whatever the page.
        let page = check(
            app,
            Conn::Comms,
            &args,
            &rows,
            &PageArgs::first(1),
            &mut book,
        )
        .await;
        assert_eq!(page.total, Some(keys.len() as i64));
    }
}

/// The media corpus: filename words (`IMG_0042.jpg` is `img`, `0042`, `jpg`), tags (accents
/// folded), search AND-ed with the other filters, fields that are not searched, and walks.
async fn media_corpus(app: &TestApp) {
    let corpus = seed(app).await;
    for &(q, keys) in MEDIA_SEARCHES {
        finds(app, &corpus, Conn::Media, json!({ "search": q }), keys).await;
    }
    let combined: [(Value, &str, &[&str]); 9] = [
        (json!({ "customerId": "c1" }), "img", &["md1", "md5"]),
        (json!({ "customerId": "c2" }), "img", &[]),
        (json!({ "mimeTypePrefix": "image/" }), "0042", &["md1"]),
        (
            json!({ "mimeTypePrefix": "application/" }),
            "pdf",
            &["md2", "md3"],
        ),
        (
            json!({ "tags": { "hasAny": ["paid"] } }),
            "invoice",
            &["md3"],
        ),
        (json!({ "tags": { "hasAny": ["foto"] } }), "foto", &["md1"]),
        (
            json!({ "tags": { "hasAll": ["aufmaß", "Küche"] } }),
            "aufmass pdf",
            &["md2"],
        ),
        (
            json!({ "customerId": "c1", "mimeTypePrefix": "image/" }),
            "p",
            &["md5"],
        ),
        (
            json!({ "customerId": "c1", "orderId": "nothing" }),
            "img",
            &[],
        ),
    ];
    for (filter, q, keys) in combined {
        finds(app, &corpus, Conn::Media, with_search(filter, q), keys).await;
    }
    // Only the filename and the tags are searched: not the path, the uploader, the MIME type
    // or the customer.
    for q in [
        "zebra",
        "crm",
        "yankee",
        "jpeg",
        "image",
        "application",
        "c1",
    ] {
        finds(app, &corpus, Conn::Media, json!({ "search": q }), &[]).await;
    }
    // A range of creation times with a search.
    let t = |key: &str| corpus.items(Conn::Media, &[key])[0].at;
    let range = json!({ "from": output(t("md2")), "until": output(t("md5")) });
    finds(
        app,
        &corpus,
        Conn::Media,
        json!({ "createdAt": range, "search": "p" }),
        &["md2", "md3", "md4"],
    )
    .await;

    let keys = ["md2", "md3", "md4", "md5"];
    let rows = corpus.items(Conn::Media, &keys);
    let args = Conn::Media.filter(json!({ "search": "p" }));
    let mut book = Book::default();
    walk(app, Conn::Media, &args, &rows, 2, true, &mut book).await;
    walk(app, Conn::Media, &args, &rows, 2, false, &mut book).await;
    windows(app, Conn::Media, &args, &rows, &mut book).await;
}

/// Characters with a meaning in some search syntax or in SQL only separate words: each search
/// finds what its words find (a control character may be refused instead), never an internal
/// error or a database syntax error, and nothing is written or dropped.
async fn special_characters(app: &TestApp) {
    let corpus = seed(app).await;
    for &(q, keys) in COMM_SPECIALS {
        finds_or_refused(app, &corpus, Conn::Comms, q, keys).await;
    }
    for &(q, keys) in MEDIA_SPECIALS {
        finds_or_refused(app, &corpus, Conn::Media, q, keys).await;
    }
    // In string literals of the document too.
    for (doc, total) in [
        (
            r#"{ commsConnection(filter: { search: "quo* \"kitchen\"" }) { totalCount } }"#,
            2,
        ),
        (
            r#"{ commsConnection(filter: { search: "subject:quote" }) { totalCount } }"#,
            1,
        ),
        (
            r#"{ commsConnection(filter: { search: "foo OR bar" }) { totalCount } }"#,
            2,
        ),
        (
            r#"{ commsConnection(filter: { search: "\"delivery window" }) { totalCount } }"#,
            3,
        ),
        (
            r#"{ commsConnection(filter: { search: "a\\b" }) { totalCount } }"#,
            2,
        ),
    ] {
        let body = app.gql(doc, json!({})).await;
        assert_eq!(
            body["data"]["commsConnection"]["totalCount"], total,
            "{doc}: {body}"
        );
    }
    let body = app
        .gql(
            r#"{ mediaConnection(filter: { search: "IMG_0042.jpg" }) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["mediaConnection"]["totalCount"], 1, "{body}");
    assert_eq!(app.count("crm_comms_log").await, COMMS.len() as i64);
    assert_eq!(app.count("crm_media").await, MEDIA.len() as i64);
}

/// A search without a word, longer than 1,000 characters or with more than 32 words is
/// BAD_USER_INPUT naming `filter.search`, alone, with other filters, with `first` or `last`;
/// the limits themselves are fine.
async fn refused_searches(app: &TestApp) {
    let corpus = seed(app).await;
    let words = |n: usize, sep: &str| {
        (1..=n)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(sep)
    };
    let mut bad: Vec<String> = NO_WORDS.iter().map(|q| (*q).to_owned()).collect();
    bad.extend([
        // Too long: characters, not bytes, and spaces count.
        "a".repeat(1001),
        "é".repeat(1001),
        format!("{}quote", " ".repeat(996)),
        " ".repeat(1001),
        // Too many words, however they are written.
        words(33, " "),
        format!("\"{}\"", words(33, " ")),
        words(33, "*"),
        words(33, "-"),
        format!("{} \"{}\"", words(17, " "), words(16, " ")),
        vec!["soft-close"; 17].join(" "),
    ]);
    for q in &bad {
        refused(app, Conn::Comms, q).await;
        refused(app, Conn::Media, q).await;
    }
    // As a literal in the document.
    for doc in [
        r#"{ commsConnection(filter: { search: "" }) { totalCount } }"#,
        r#"{ commsConnection(filter: { search: "*" }) { totalCount } }"#,
        r#"{ mediaConnection(filter: { search: "()" }) { totalCount } }"#,
    ] {
        let body = app.gql(doc, json!({})).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{doc}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "filter.search",
            "{body}"
        );
        assert_eq!(body["data"], Value::Null, "{body}");
    }

    // At the limits: 1,000 characters (of any width), 32 words.
    let limits: [(String, &[&str]); 9] = [
        ("a".repeat(1000), &[]),
        ("é".repeat(1000), &[]),
        (format!("{}quote", " ".repeat(995)), &["q1", "q2", "s1"]),
        (words(32, " "), &[]),
        (format!("\"{}\"", words(32, " ")), &[]),
        (words(32, "*"), &[]),
        (format!("{} \"{}\"", words(16, " "), words(16, " ")), &[]),
        (vec!["soft-close"; 16].join(" "), &["q3"]),
        (format!("{} quote", "* ".repeat(40)), &["q1", "q2", "s1"]),
    ];
    for (q, keys) in limits {
        finds(app, &corpus, Conn::Comms, json!({ "search": q }), keys).await;
        finds(app, &corpus, Conn::Media, json!({ "search": q }), &[]).await;
    }
}

/// Ids that `conn` with `filter` finds now (the search must be answered).
async fn found(app: &TestApp, conn: Conn, filter: Value) -> Vec<String> {
    search(app, conn, &filter)
        .await
        .unwrap_or_else(|body| panic!("{} {filter} is refused: {body}", conn.field()))
}

/// `searches` of `conn` each find exactly these ids (in this order), by the very next request.
async fn now_finds(app: &TestApp, conn: Conn, searches: &[(&str, &[&Value])]) {
    for (q, want) in searches {
        let want: Vec<String> = want
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            found(app, conn, json!({ "search": q })).await,
            want,
            "{} {q:?}",
            conn.field()
        );
    }
}

const UPDATE_COMM: &str = "mutation($id: ID!, $input: CommUpdateInput!) { \
    updateComm(id: $id, input: $input) { id subject body occurredAt } }";

async fn update_comm(app: &TestApp, id: &Value, input: Value) {
    let data = app
        .data(UPDATE_COMM, json!({ "id": id, "input": input }))
        .await;
    assert_eq!(&data["updateComm"]["id"], id);
}

async fn delete(app: &TestApp, mutation: &str, id: &Value) {
    let data = app
        .data(
            &format!("mutation($id: ID!) {{ {mutation}(id: $id) }}"),
            json!({ "id": id }),
        )
        .await;
    assert_eq!(&data[mutation], id);
}

/// Creates, updates (subject, body, both cleared, time only, customer-filtered) and deletes of
/// comms and media are reflected by the very next search: new words found, old ones not.
async fn index_follows_writes(app: &TestApp) {
    let comm = |subject: Option<&str>, body: Option<&str>, seconds: i64| {
        json!({ "customerId": "u", "type": "NOTE", "direction": "INTERNAL", "subject": subject,
            "body": body, "occurredAt": output(at(seconds, 0)) })
    };
    let c = app
        .create_comm(comm(Some("Alpha quote"), Some("bravo"), 100))
        .await;
    now_finds(
        app,
        Conn::Comms,
        &[("alpha", &[&c]), ("bravo", &[&c]), ("alpha bravo", &[&c])],
    )
    .await;
    let d = app.create_comm(comm(Some("alpha two"), None, 200)).await;
    now_finds(app, Conn::Comms, &[("alpha", &[&d, &c]), ("two", &[&d])]).await;

    update_comm(app, &c["id"], json!({ "subject": "Charlie" })).await;
    now_finds(
        app,
        Conn::Comms,
        &[
            ("alpha", &[&d]),
            ("quote", &[]),
            ("charlie", &[&c]),
            ("bravo", &[&c]),
            ("charlie bravo", &[&c]),
        ],
    )
    .await;
    update_comm(app, &c["id"], json!({ "body": "delta echo" })).await;
    now_finds(
        app,
        Conn::Comms,
        &[
            ("bravo", &[]),
            ("\"delta echo\"", &[&c]),
            ("charlie delta", &[&c]),
        ],
    )
    .await;
    update_comm(app, &c["id"], json!({ "subject": null })).await;
    now_finds(app, Conn::Comms, &[("charlie", &[]), ("delta", &[&c])]).await;
    update_comm(app, &c["id"], json!({ "body": null })).await;
    now_finds(app, Conn::Comms, &[("delta", &[]), ("echo", &[])]).await;
    // New words and a new time at once: the order follows the time.
    update_comm(
        app,
        &c["id"],
        json!({ "subject": "alpha again", "occurredAt": output(at(300, 0)) }),
    )
    .await;
    now_finds(app, Conn::Comms, &[("alpha", &[&c, &d]), ("again", &[&c])]).await;
    // Only the time: the words stay.
    update_comm(app, &c["id"], json!({ "occurredAt": output(at(50, 0)) })).await;
    now_finds(app, Conn::Comms, &[("alpha", &[&d, &c]), ("again", &[&c])]).await;
    assert_eq!(
        found(
            app,
            Conn::Comms,
            json!({ "search": "alpha", "customerId": "u", "types": ["NOTE"] })
        )
        .await,
        [d["id"].as_str().unwrap(), c["id"].as_str().unwrap()]
    );
    // An update that fails changes nothing.
    let body = app
        .gql(
            UPDATE_COMM,
            json!({ "id": c["id"], "input": { "subject": "x".repeat(1001) } }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    now_finds(app, Conn::Comms, &[("again", &[&c]), ("xxx", &[])]).await;

    delete(app, "deleteComm", &d["id"]).await;
    now_finds(app, Conn::Comms, &[("alpha", &[&c]), ("two", &[])]).await;
    delete(app, "deleteComm", &c["id"]).await;
    now_finds(app, Conn::Comms, &[("alpha", &[]), ("again", &[])]).await;

    // Media: found as soon as created, gone as soon as deleted.
    let m = app
        .create_media(json!({ "customerId": "u", "filename": "Kitchen_plan.pdf",
            "nextcloudPath": "/k.pdf", "tags": ["Aufmaß"] }))
        .await;
    now_finds(
        app,
        Conn::Media,
        &[
            ("aufmass", &[&m]),
            ("kitchen plan", &[&m]),
            ("kitchen_plan", &[&m]),
        ],
    )
    .await;
    let n = app
        .create_media(
            json!({ "customerId": "u", "filename": "kitchen.jpg", "nextcloudPath": "/k.jpg" }),
        )
        .await;
    let mut both = [&m, &n];
    both.sort_by_key(|v| std::cmp::Reverse(media_item(v).key()));
    now_finds(app, Conn::Media, &[("kitchen", &both[..]), ("jpg", &[&n])]).await;
    delete(app, "deleteMedia", &m["id"]).await;
    now_finds(
        app,
        Conn::Media,
        &[("kitchen", &[&n]), ("aufmass", &[]), ("plan", &[])],
    )
    .await;
    delete(app, "deleteMedia", &n["id"]).await;
    now_finds(app, Conn::Media, &[("kitchen", &[])]).await;
    // A new row with the words of a deleted one is found alone.
    let c2 = app
        .create_comm(comm(Some("Alpha quote"), Some("bravo"), 100))
        .await;
    now_finds(
        app,
        Conn::Comms,
        &[("alpha", &[&c2]), ("bravo quote", &[&c2])],
    )
    .await;
}

const INGEST: &str = "mutation($inputs: [CommCreateInput!]!, $atomic: Boolean!) { \
                      ingestComms(inputs: $inputs, atomic: $atomic) { created duplicates rejected \
                      results { index status id } } }";

/// `ingestComms`: the rows it creates are found at once; a duplicate's text and a rejected
/// input's are not (nothing was written for them), nor anything of an atomic call that failed.
async fn index_follows_ingest(app: &TestApp) {
    let input = |ext: Option<&str>, customer: &str, subject: &str, seconds: i64| {
        json!({ "customerId": customer, "type": "EMAIL", "direction": "INBOUND",
            "extMessageId": ext, "subject": subject, "occurredAt": output(at(seconds, 0)) })
    };
    let original = app
        .create_comm(input(Some("<e0@x>"), "ing", "original gamma", 100))
        .await;
    let report = app
        .data(
            INGEST,
            json!({ "atomic": false, "inputs": [
                input(Some("<e1@x>"), "ing", "gamma one", 200),
                input(Some("<e0@x>"), "ing", "gamma replay zulu", 300),
                input(Some("<e2@x>"), "", "gamma rejected yankee", 400),
                input(None, "ing", "gamma three", 500),
            ] }),
        )
        .await["ingestComms"]
        .clone();
    assert_eq!(
        (
            &report["created"],
            &report["duplicates"],
            &report["rejected"]
        ),
        (&json!(2), &json!(1), &json!(1)),
        "{report}"
    );
    let one = report["results"][0]["id"].clone();
    let three = report["results"][3]["id"].clone();
    assert_eq!(report["results"][1]["id"], original["id"], "{report}");
    let (one, three) = (json!({ "id": one }), json!({ "id": three }));
    now_finds(
        app,
        Conn::Comms,
        &[
            ("gamma", &[&three, &one, &original]),
            ("one", &[&one]),
            ("\"gamma three\"", &[&three]),
            ("original", &[&original]),
            ("zulu", &[]),
            ("replay", &[]),
            ("yankee", &[]),
        ],
    )
    .await;
    // Atomic with an invalid input: nothing is written, nothing found.
    let body = app
        .gql(
            INGEST,
            json!({ "atomic": true, "inputs": [
                input(Some("<e5@x>"), "ing", "xray gamma", 600),
                input(Some("<e6@x>"), "", "xray", 700),
            ] }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    now_finds(
        app,
        Conn::Comms,
        &[("xray", &[]), ("gamma", &[&three, &one, &original])],
    )
    .await;
    // A second batch: all created, all found.
    let report = app
        .data(
            INGEST,
            json!({ "atomic": true, "inputs": [
                input(Some("<e7@x>"), "ing", "Whiskey Ärger", 50),
                input(Some("<e8@x>"), "other", "whiskey sour", 60),
            ] }),
        )
        .await["ingestComms"]
        .clone();
    assert_eq!(report["created"], 2, "{report}");
    let seven = json!({ "id": report["results"][0]["id"] });
    let eight = json!({ "id": report["results"][1]["id"] });
    now_finds(
        app,
        Conn::Comms,
        &[("whiskey", &[&eight, &seven]), ("arger", &[&seven])],
    )
    .await;
    assert_eq!(
        found(
            app,
            Conn::Comms,
            json!({ "search": "whiskey", "customerId": "ing" })
        )
        .await,
        [seven["id"].as_str().unwrap()]
    );
}

backend_tests!(
    comms_corpus,
    media_corpus,
    special_characters,
    refused_searches,
    index_follows_writes,
    index_follows_ingest,
);

// ---------------------------------------------------------------------------------------------
// SQLite: rows written by another process
// ---------------------------------------------------------------------------------------------

/// Runs `statements` through Python's `sqlite3` (the seed's SQLite); they must succeed beside
/// whatever crm-comms added to the file (triggers, index tables).
fn python(path: &Path, statements: &[(&str, Value)]) -> Vec<Vec<Value>> {
    try_system_sqlite(path, statements).unwrap_or_else(|err| {
        panic!("the seed's SQLite (Python) cannot write beside crm-comms: {err}: {statements:?}")
    })
}

/// The seed's way of logging a comm: every column of `crm_comms_log`, as Python writes them.
const PY_INSERT_COMM: &str = "INSERT INTO crm_comms_log (id, customer_id, type, direction, \
    subject, body, attachments, ext_message_id, logged_by, occurred_at, created_at) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// A comm row for [`PY_INSERT_COMM`].
fn py_comm(id: &str, subject: Option<&str>, body: Option<&str>, occurred_at: &str) -> Value {
    json!([
        id,
        "py",
        "note",
        "internal",
        subject,
        body,
        "[]",
        null,
        "python",
        occurred_at,
        occurred_at
    ])
}

/// The seed's way of recording a media item (its tags as Python's `json.dumps` writes them).
const PY_INSERT_MEDIA: &str = "INSERT INTO crm_media (id, customer_id, order_id, filename, \
    nextcloud_path, mime_type, direction, tags, uploaded_by, created_at) \
    VALUES (?, 'py', NULL, ?, ?, 'application/pdf', 'internal', ?, 'python', ?)";

/// How long a change by another process may take to show in searches, and how often to look.
const WITHIN: Duration = Duration::from_secs(10);
const EVERY: Duration = Duration::from_millis(100);

/// Polls `conn` with `filter` every 100 ms until it finds exactly `want` (ids, in order); fails
/// after 10 s. A NOT_READY answer counts as "not yet"; any other error fails at once.
async fn eventually(app: &TestApp, conn: Conn, filter: Value, want: &[&str]) {
    let deadline = Instant::now() + WITHIN;
    loop {
        let last = search(app, conn, &filter).await;
        match &last {
            Ok(ids) if ids == want => return,
            Err(body) if error_code(body) != "NOT_READY" => {
                panic!("{} {filter} is refused: {body}", conn.field())
            }
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "{} {filter} still answers {last:?} after {WITHIN:?}, not {want:?}",
            conn.field()
        );
        tokio::time::sleep(EVERY).await;
    }
}

/// SQLite: rows Python's `sqlite3` inserts, updates and deletes on the same file while the
/// server runs (also the server's own rows, also several rows in one statement, and while the
/// server is down) are reflected in searches within seconds, and Python's writes succeed
/// beside what crm-comms added; both SQLite versions find the file intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_python_writes_are_found_within_seconds() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let path = app.db.path().unwrap();
    let ours = app
        .create_comm(
            json!({ "customerId": "py", "type": "NOTE", "direction": "INTERNAL",
            "subject": "Walrus", "body": "herring", "occurredAt": "2026-01-03T00:00:00Z" }),
        )
        .await;
    let ours = ours["id"].as_str().unwrap().to_owned();
    let comms = |q: &str| json!({ "search": q });

    // Inserted, in the seed's time shapes.
    python(
        &path,
        &[
            (
                PY_INSERT_COMM,
                py_comm(
                    "py-1",
                    Some("Narwhal tusk"),
                    Some("arctic Ölfass"),
                    "2026-01-01T00:00:00",
                ),
            ),
            (
                PY_INSERT_COMM,
                py_comm("py-2", Some("narwhal pod"), None, "2026-01-02 00:00:00"),
            ),
            (
                PY_INSERT_COMM,
                py_comm(
                    "py-3",
                    None,
                    Some("the Narwhal's café"),
                    "2026-01-04T01:00:00+02:00",
                ),
            ),
        ],
    );
    eventually(
        &app,
        Conn::Comms,
        comms("narwhal"),
        &["py-3", "py-2", "py-1"],
    )
    .await;
    eventually(&app, Conn::Comms, comms("tusk arctic"), &["py-1"]).await;
    eventually(&app, Conn::Comms, comms("olfass"), &["py-1"]).await;
    eventually(&app, Conn::Comms, comms("\"narwhal s cafe\""), &["py-3"]).await;
    assert_eq!(
        found(
            &app,
            Conn::Comms,
            json!({ "search": "narwhal", "customerId": "py", "types": ["NOTE"] })
        )
        .await,
        ["py-3", "py-2", "py-1"]
    );

    // Updated: the subject of one row, the body of crm-comms' own row, several rows at once.
    python(
        &path,
        &[
            (
                "UPDATE crm_comms_log SET subject = 'Beluga' WHERE id = 'py-1'",
                json!([]),
            ),
            (
                "UPDATE crm_comms_log SET body = 'krill' WHERE id = ?",
                json!([ours]),
            ),
        ],
    );
    eventually(&app, Conn::Comms, comms("narwhal"), &["py-3", "py-2"]).await;
    eventually(&app, Conn::Comms, comms("beluga arctic"), &["py-1"]).await;
    eventually(&app, Conn::Comms, comms("tusk"), &[]).await;
    eventually(&app, Conn::Comms, comms("krill walrus"), &[ours.as_str()]).await;
    eventually(&app, Conn::Comms, comms("herring"), &[]).await;
    python(
        &path,
        &[(
            "UPDATE crm_comms_log SET body = COALESCE(body, '') || ' plankton' \
             WHERE customer_id = 'py'",
            json!([]),
        )],
    );
    eventually(
        &app,
        Conn::Comms,
        comms("plankton"),
        &["py-3", ours.as_str(), "py-2", "py-1"],
    )
    .await;

    // Deleted: Python's row and crm-comms' row.
    python(
        &path,
        &[
            ("DELETE FROM crm_comms_log WHERE id = 'py-2'", json!([])),
            ("DELETE FROM crm_comms_log WHERE id = ?", json!([ours])),
        ],
    );
    eventually(&app, Conn::Comms, comms("plankton"), &["py-3", "py-1"]).await;
    eventually(&app, Conn::Comms, comms("walrus"), &[]).await;

    // crm-comms changes a row Python wrote: at once.
    update_comm(&app, &json!("py-3"), json!({ "subject": "Orca" })).await;
    assert_eq!(
        found(&app, Conn::Comms, comms("orca narwhal")).await,
        ["py-3"]
    );

    // Media, with tags as `json.dumps` escapes them.
    python(
        &path,
        &[
            (
                PY_INSERT_MEDIA,
                json!([
                    "pm-1",
                    "Aufmaß_Bad.pdf",
                    "/py/a.pdf",
                    r#"["Gr\u00fc\u00dfe", "Fliesen"]"#,
                    "2026-01-01T00:00:00"
                ]),
            ),
            (
                PY_INSERT_MEDIA,
                json!(["pm-2", "bad.pdf", "/py/b.pdf", "[]", "2026-01-02T00:00:00Z"]),
            ),
        ],
    );
    eventually(&app, Conn::Media, comms("aufmass bad"), &["pm-1"]).await;
    eventually(&app, Conn::Media, comms("bad"), &["pm-2", "pm-1"]).await;
    eventually(&app, Conn::Media, comms("grusse fliesen"), &["pm-1"]).await;
    python(
        &path,
        &[
            (
                "UPDATE crm_media SET tags = '[\"Kacheln\"]' WHERE id = 'pm-1'",
                json!([]),
            ),
            (
                "UPDATE crm_media SET filename = 'Bath.pdf' WHERE id = 'pm-2'",
                json!([]),
            ),
        ],
    );
    eventually(&app, Conn::Media, comms("kacheln"), &["pm-1"]).await;
    eventually(&app, Conn::Media, comms("fliesen"), &[]).await;
    eventually(&app, Conn::Media, comms("bath"), &["pm-2"]).await;
    eventually(&app, Conn::Media, comms("bad"), &["pm-1"]).await;
    python(
        &path,
        &[("DELETE FROM crm_media WHERE id = 'pm-1'", json!([]))],
    );
    eventually(&app, Conn::Media, comms("kacheln"), &[]).await;

    assert_eq!(system_integrity(&path), "ok");
    assert_eq!(bundled_integrity(&path), "ok");

    // While the server is down: Python writes, the next server finds it.
    let db = app.stop().await;
    python(
        &path,
        &[
            (
                PY_INSERT_COMM,
                py_comm("py-4", Some("Manatee"), None, "2026-01-05T00:00:00"),
            ),
            (
                "UPDATE crm_comms_log SET subject = 'Dugong' WHERE id = 'py-1'",
                json!([]),
            ),
            ("DELETE FROM crm_comms_log WHERE id = 'py-3'", json!([])),
        ],
    );
    let app = TestApp::spawn_on(db).await;
    eventually(&app, Conn::Comms, comms("manatee"), &["py-4"]).await;
    eventually(&app, Conn::Comms, comms("dugong"), &["py-1"]).await;
    eventually(&app, Conn::Comms, comms("beluga"), &[]).await;
    eventually(&app, Conn::Comms, comms("orca"), &[]).await;
    eventually(&app, Conn::Comms, comms("plankton"), &["py-1"]).await;
    let path = app.db.path().unwrap();
    assert_eq!(system_integrity(&path), "ok");
    assert_eq!(bundled_integrity(&path), "ok");
    app.stop().await;
}

/// The ids the SQL `select` (one column of ids) returns from the file, by Python.
fn ids_where(path: &Path, select: &str) -> Vec<String> {
    system_sqlite(path, &[(select, json!([]))])[0]
        .iter()
        .map(|row| row[0].as_str().unwrap().to_owned())
        .collect()
}

/// Every id `conn` lists without a filter, in order.
async fn listed(app: &TestApp, conn: Conn) -> Vec<String> {
    let (doc, vars) = document(
        conn.field(),
        &PageArgs::first(500).args(),
        "nodes { id } pageInfo { hasNextPage }",
    );
    let data = app.data(&doc, vars).await;
    assert_eq!(data[conn.field()]["pageInfo"]["hasNextPage"], false);
    data[conn.field()]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

/// SQLite: the seed's database with rows Python wrote before crm-comms ever opened it (its
/// own 60 comms and 20 media, and more in the seed's shapes) is indexed in the background
/// after the start: `/healthz` answers 200 at once and throughout, and every search answers
/// either NOT_READY or its complete result; polled until it answers. Rows written after are
/// found too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_seed_rows_are_indexed_after_start() {
    let db = crate::seed_compat::seed_copy().await;
    let path = db.path().unwrap();
    let mut statements = vec![("BEGIN", json!([]))];
    let shapes = [
        "2026-02-01T10:{m}:00",
        "2026-02-01T10:{m}:00Z",
        "2026-02-01 12:{m}:00+02:00",
    ];
    for i in 0..30 {
        let at = shapes[i % 3].replace("{m}", &format!("{i:02}"));
        let subject = if i % 2 == 0 {
            "Xylophone lesson"
        } else {
            "Lesson"
        };
        let body = (i % 3 == 0).then_some("Bring the zither, s'il vous plaît");
        statements.push((
            PY_INSERT_COMM,
            py_comm(&format!("pre-{i:02}"), Some(subject), body, &at),
        ));
    }
    for i in 0..6 {
        let tags = if i % 2 == 0 {
            r#"["Gr\u00fc\u00dfe", "Theremin"]"#
        } else {
            "[]"
        };
        statements.push((
            PY_INSERT_MEDIA,
            json!([
                format!("pre-m{i}"),
                format!("Theremin_{i}.wav"),
                format!("/py/{i}.wav"),
                tags,
                format!("2026-02-01T10:{i:02}:00")
            ]),
        ));
    }
    statements.push(("COMMIT", json!([])));
    system_sqlite(&path, &statements);

    // What each search must find, by SQL over the file (the words below occur only where
    // these patterns do), before the server opens it.
    let comm_text = "COALESCE(subject, '') || ' ' || COALESCE(body, '')";
    let comm_cases: Vec<(&str, Vec<String>)> = vec![
        (
            "München",
            ids_where(
                &path,
                &format!("SELECT id FROM crm_comms_log WHERE {comm_text} LIKE '%München%'"),
            ),
        ),
        (
            "\"müller gmbh\"",
            ids_where(
                &path,
                &format!("SELECT id FROM crm_comms_log WHERE {comm_text} LIKE '%Müller GmbH%'"),
            ),
        ),
        (
            "QUOTE",
            ids_where(
                &path,
                &format!("SELECT id FROM crm_comms_log WHERE {comm_text} LIKE '%quote%'"),
            ),
        ),
        (
            "пробная",
            ids_where(
                &path,
                &format!("SELECT id FROM crm_comms_log WHERE {comm_text} LIKE '%Пробная%'"),
            ),
        ),
        (
            "\"delayed shipment\"",
            ids_where(
                &path,
                &format!(
                    "SELECT id FROM crm_comms_log WHERE {comm_text} LIKE '%delayed shipment%'"
                ),
            ),
        ),
        (
            "xylophone",
            ids_where(
                &path,
                &format!("SELECT id FROM crm_comms_log WHERE {comm_text} LIKE '%xylophone%'"),
            ),
        ),
        (
            "xylo zither",
            ids_where(
                &path,
                &format!(
                    "SELECT id FROM crm_comms_log WHERE {comm_text} LIKE '%xylophone%' \
                     AND {comm_text} LIKE '%zither%'"
                ),
            ),
        ),
        (
            "plait",
            ids_where(
                &path,
                &format!("SELECT id FROM crm_comms_log WHERE {comm_text} LIKE '%plaît%'"),
            ),
        ),
    ];
    let media_cases: Vec<(&str, Vec<String>)> = vec![
        (
            "muller",
            ids_where(
                &path,
                "SELECT id FROM crm_media WHERE filename || tags LIKE '%Müller%'",
            ),
        ),
        (
            "外観",
            ids_where(
                &path,
                "SELECT id FROM crm_media WHERE EXISTS \
                 (SELECT 1 FROM json_each(crm_media.tags) WHERE value = '外観')",
            ),
        ),
        (
            "photo",
            ids_where(
                &path,
                "SELECT id FROM crm_media WHERE filename || tags LIKE '%photo%'",
            ),
        ),
        (
            "theremin",
            ids_where(
                &path,
                "SELECT id FROM crm_media WHERE filename LIKE '%Theremin%'",
            ),
        ),
        (
            "grusse theremin",
            ids_where(
                &path,
                "SELECT id FROM crm_media WHERE EXISTS \
                 (SELECT 1 FROM json_each(crm_media.tags) WHERE value = 'Grüße')",
            ),
        ),
    ];
    for (q, ids) in comm_cases.iter().chain(&media_cases) {
        assert!(ids.len() >= 3, "{q} finds a few rows: {ids:?}");
    }

    let app = TestApp::spawn_on(db).await;
    assert_eq!(app.health().await, 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    for (conn, cases) in [(Conn::Comms, &comm_cases), (Conn::Media, &media_cases)] {
        // The order: the normal one, as the listing without a filter gives it.
        let order = listed(&app, conn).await;
        for (q, ids) in cases {
            let want: Vec<String> = order
                .iter()
                .filter(|id| ids.contains(id))
                .cloned()
                .collect();
            assert_eq!(want.len(), ids.len(), "every row is listed");
            let filter = json!({ "search": q });
            loop {
                assert_eq!(app.health().await, 200, "/healthz while the index is built");
                match search(&app, conn, &filter).await {
                    Ok(got) => {
                        assert_eq!(got, want, "{} {filter}: a complete answer", conn.field());
                        break;
                    }
                    Err(body) => assert_eq!(error_code(&body), "NOT_READY", "{filter}: {body}"),
                }
                assert!(
                    Instant::now() < deadline,
                    "the search index is not built within a minute"
                );
                tokio::time::sleep(EVERY).await;
            }
        }
    }

    // Built: new rows are found, from crm-comms at once and from Python within seconds.
    let created = app
        .create_comm(
            json!({ "customerId": "pre", "type": "NOTE", "direction": "INTERNAL",
            "subject": "xylophone again", "occurredAt": "2027-01-01T00:00:00Z" }),
        )
        .await;
    let xylophone = found(&app, Conn::Comms, json!({ "search": "xylophone" })).await;
    assert_eq!(xylophone[0], created["id"].as_str().unwrap());
    assert_eq!(xylophone.len(), comm_cases[5].1.len() + 1);
    python(
        &path,
        &[(
            PY_INSERT_COMM,
            py_comm("pre-new", Some("Glockenspiel"), None, "2026-02-02T00:00:00"),
        )],
    );
    eventually(
        &app,
        Conn::Comms,
        json!({ "search": "glockenspiel" }),
        &["pre-new"],
    )
    .await;
    assert_eq!(system_integrity(&path), "ok");
    assert_eq!(bundled_integrity(&path), "ok");
    app.stop().await;
}
