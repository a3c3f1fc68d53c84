//! The customer timeline (`timeline`: comms and media in one feed, newest first) and the
//! facets of `commsSummary`, on every backend; and rows written by raw SQL in every stored
//! shape (SQLite, also by the system SQLite while the server runs) or with native timestamps
//! (PostgreSQL, MySQL/MariaDB), 1 µs apart and at equal instants: the connections, the timeline
//! and the summary answer the same, byte for byte, on every backend.

use crate::common::{Backend, TestApp, backend_tests, error_code, system_sqlite};
use crate::connections::{
    Arg, Book, Conn, DIRECTIONS, Item, Page, PageArgs, TYPES, at, check, comm_item, document,
    fetch, instant, labels, media_item, newest_first, nothing_or_rejected, output, refuses_cursor,
    refuses_foreign, rejected, rejected_page, walk, windows, with_offset,
};
use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use serde_json::{Value, json};

fn timeline_comm(c: &Value) -> Item {
    let item = comm_item(c);
    Item {
        label: format!("Comm:{}", item.id),
        ..item
    }
}

fn timeline_media(m: &Value) -> Item {
    let item = media_item(m);
    Item {
        label: format!("Media:{}", item.id),
        ..item
    }
}

fn customer(c: &str) -> Arg {
    ("customerId", "String!", json!(c))
}

/// A customer's media (created one after the other), comms at, just before and just after
/// each media item's `createdAt`, and comms long before and after; other customers' rows at
/// the same instants. Returns the customer's comms and media as created.
async fn seed_timeline(app: &TestApp, who: &str) -> (Vec<Value>, Vec<Value>) {
    let mut media = Vec::new();
    for i in 0..10 {
        media.push(
            app.create_media(json!({
                "customerId": who, "orderId": format!("o{}", i % 3),
                "filename": format!("f{i}.jpg"), "nextcloudPath": format!("/{who}/f{i}.jpg"),
                "mimeType": (["image/jpeg", "application/pdf"][i % 2]),
                "direction": (["RECEIVED", "SENT", "INTERNAL"][i % 3]), "tags": [format!("t{i}")],
            }))
            .await,
        );
        // Not this customer's.
        app.create_media(
            json!({ "customerId": format!("{who}-other"), "filename": "x",
            "nextcloudPath": "/x" }),
        )
        .await;
    }
    app.create_media(json!({ "filename": "nobody's", "nextcloudPath": "/n" }))
        .await;
    let mut comms = Vec::new();
    let mut n = 0;
    let mut comm = |t: DateTime<Utc>| {
        n += 1;
        let n = n;
        async move {
            app.create_comm(json!({
                "customerId": who, "type": TYPES[n % 6], "direction": DIRECTIONS[n % 3],
                "subject": format!("c{n}"), "occurredAt": with_offset(t, [0, 7200, -18000][n % 3]),
            }))
            .await
        }
    };
    for m in &media {
        let t = instant(m["createdAt"].as_str().unwrap());
        for delta in [0, 1, -1] {
            comms.push(comm(t + Duration::microseconds(delta)).await);
        }
    }
    for i in 0..16 {
        let t = if i % 2 == 0 {
            at(i * 3600, 0)
        } else {
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(i)
        };
        comms.push(comm(t).await);
    }
    let t = instant(media[4]["createdAt"].as_str().unwrap());
    app.create_comm(
        json!({ "customerId": format!("{who}-other"), "type": "EMAIL",
        "direction": "INBOUND", "occurredAt": output(t) }),
    )
    .await;
    (comms, media)
}

/// Comms and media interleaved newest first by `at` (ties by id), walked by 1, 7 and 500 in
/// both directions and between cursors; the default page size; an unknown customer.
async fn interleaves_comms_and_media(app: &TestApp) {
    let (comms, media) = seed_timeline(app, "tl").await;
    let rows = newest_first(
        comms
            .iter()
            .map(timeline_comm)
            .chain(media.iter().map(timeline_media))
            .collect(),
    );
    assert_eq!(rows.len(), 56);
    // The data has comm/media ties and items 1 µs apart of both kinds.
    assert!(
        rows.windows(2)
            .any(|w| w[0].at == w[1].at && w[0].label[..4] != w[1].label[..4])
    );
    let extra = [customer("tl")];
    let mut book = Book::default();
    for size in [1, 7, 500] {
        walk(app, Conn::Timeline, &extra, &rows, size, true, &mut book).await;
        walk(app, Conn::Timeline, &extra, &rows, size, false, &mut book).await;
    }
    windows(app, Conn::Timeline, &extra, &rows, &mut book).await;
    let page = check(
        app,
        Conn::Timeline,
        &extra,
        &rows,
        &PageArgs::default(),
        &mut book,
    )
    .await;
    assert_eq!(page.labels.len(), 50);
    assert!(page.has_next && !page.has_prev);

    // The nodes are the very comms and media the other queries answer.
    let all = fetch(app, Conn::Timeline, &extra, &PageArgs::first(500)).await;
    for (label, node) in all.labels.iter().zip(&all.nodes) {
        let mut node = node.clone();
        node.as_object_mut().unwrap().remove("__typename");
        let original = comms
            .iter()
            .chain(&media)
            .find(|v| label.ends_with(v["id"].as_str().unwrap()))
            .unwrap();
        assert_eq!(&node, original, "{label}");
    }
    // `includeMedia: true` is the default.
    let explicit = [customer("tl"), ("includeMedia", "Boolean!", json!(true))];
    let same = fetch(app, Conn::Timeline, &explicit, &PageArgs::first(500)).await;
    assert_eq!(same.labels, all.labels);
    assert_eq!(same.cursors, all.cursors, "one row, one cursor");

    // An unknown customer: an empty page.
    for args in [PageArgs::first(5), PageArgs::last(5)] {
        let page = check(
            app,
            Conn::Timeline,
            &[customer("nobody")],
            &[],
            &args,
            &mut book,
        )
        .await;
        assert!(page.labels.is_empty() && page.start.is_none() && page.end.is_none());
    }
    // Case matters, and so does a trailing space.
    let page = fetch(app, Conn::Timeline, &[customer("TL")], &PageArgs::first(5)).await;
    assert!(page.labels.is_empty());
    nothing_or_rejected(app, Conn::Timeline, &[customer("tl ")]).await;
}

/// `types` filters the comms only (media stay unless `includeMedia: false`); `at` filters
/// both by `at`, from ≤ at < until, with offsets; walks under each.
async fn types_include_media_and_at(app: &TestApp) {
    let (comms, media) = seed_timeline(app, "tf").await;
    let from = instant(media[3]["createdAt"].as_str().unwrap());
    let until = instant(media[7]["createdAt"].as_str().unwrap());
    // Which created comm (`true`) or media item the arguments keep, `at` aside.
    type Keep = Box<dyn Fn(&Value, bool) -> bool>;
    let cases: Vec<(Vec<Arg>, Keep)> = vec![
        (
            vec![("types", "[CommType!]", json!(["EMAIL", "CALL"]))],
            Box::new(|v, is_comm| !is_comm || v["type"] == "EMAIL" || v["type"] == "CALL"),
        ),
        (
            vec![("types", "[CommType!]", json!(TYPES))],
            Box::new(|_, _| true),
        ),
        (
            vec![("includeMedia", "Boolean!", json!(false))],
            Box::new(|_, is_comm| is_comm),
        ),
        (
            vec![
                ("types", "[CommType!]", json!(["NOTE", "SMS"])),
                ("includeMedia", "Boolean!", json!(false)),
            ],
            Box::new(|v, is_comm| is_comm && (v["type"] == "NOTE" || v["type"] == "SMS")),
        ),
        (
            vec![(
                "at",
                "TimeRange",
                json!({ "from": with_offset(from, 7200), "until": with_offset(until, -18000) }),
            )],
            Box::new(|_, _| true),
        ),
        (
            vec![(
                "at",
                "TimeRange",
                json!({ "from": with_offset(from, 19800) }),
            )],
            Box::new(|_, _| true),
        ),
        (
            vec![("at", "TimeRange", json!({ "until": output(until) }))],
            Box::new(|_, _| true),
        ),
        (
            vec![
                ("types", "[CommType!]", json!(["WHATSAPP"])),
                (
                    "at",
                    "TimeRange",
                    json!({ "from": output(from), "until": output(until) }),
                ),
            ],
            Box::new(|v, is_comm| !is_comm || v["type"] == "WHATSAPP"),
        ),
        (
            vec![
                ("includeMedia", "Boolean!", json!(false)),
                (
                    "at",
                    "TimeRange",
                    json!({ "from": output(from), "until": output(until) }),
                ),
            ],
            Box::new(|_, is_comm| is_comm),
        ),
        (
            vec![
                ("types", "[CommType!]", Value::Null),
                ("at", "TimeRange", Value::Null),
            ],
            Box::new(|_, _| true),
        ),
    ];
    for (args, keep) in cases {
        let range = args
            .iter()
            .find(|(n, _, v)| *n == "at" && !v.is_null())
            .map(|(_, _, v)| v.clone());
        let within = |i: &Item| {
            range.as_ref().is_none_or(|r| {
                r["from"].as_str().is_none_or(|f| i.at >= instant(f))
                    && r["until"].as_str().is_none_or(|u| i.at < instant(u))
            })
        };
        let rows = newest_first(
            comms
                .iter()
                .filter(|c| keep(c, true))
                .map(timeline_comm)
                .chain(media.iter().filter(|m| keep(m, false)).map(timeline_media))
                .filter(within)
                .collect(),
        );
        assert!(!rows.is_empty(), "{args:?}");
        let mut extra = vec![customer("tf")];
        extra.extend(args.clone());
        let mut book = Book::default();
        check(
            app,
            Conn::Timeline,
            &extra,
            &rows,
            &PageArgs::first(500),
            &mut book,
        )
        .await;
        for size in [3, 7] {
            walk(app, Conn::Timeline, &extra, &rows, size, true, &mut book).await;
            walk(app, Conn::Timeline, &extra, &rows, size, false, &mut book).await;
        }
    }

    // The range is from ≤ at < until: [t, t) is empty, [t, t + 1 µs) holds exactly what is at t.
    let t = from;
    for (a, b) in [
        (t, t),
        (t, t + Duration::microseconds(1)),
        (t - Duration::microseconds(1), t),
    ] {
        let extra = [
            customer("tf"),
            (
                "at",
                "TimeRange",
                json!({ "from": output(a), "until": output(b) }),
            ),
        ];
        let rows = newest_first(
            comms
                .iter()
                .map(timeline_comm)
                .chain(media.iter().map(timeline_media))
                .filter(|i| i.at >= a && i.at < b)
                .collect(),
        );
        let mut book = Book::default();
        check(
            app,
            Conn::Timeline,
            &extra,
            &rows,
            &PageArgs::first(500),
            &mut book,
        )
        .await;
    }
    // Comms only: the same comms, in the same order, as commsConnection.
    let only = [customer("tf"), ("includeMedia", "Boolean!", json!(false))];
    let timeline = fetch(app, Conn::Timeline, &only, &PageArgs::first(500)).await;
    let filter = Conn::Comms.filter(json!({ "customerId": "tf" }));
    let listed = fetch(app, Conn::Comms, &filter, &PageArgs::first(500)).await;
    let nodes: Vec<Value> = timeline
        .nodes
        .iter()
        .map(|n| {
            let mut n = n.clone();
            n.as_object_mut().unwrap().remove("__typename");
            n
        })
        .collect();
    assert_eq!(nodes, listed.nodes);
}

/// Arguments of `timeline` out of range, tampered cursors and cursors of the other
/// connections: BAD_USER_INPUT naming the argument.
async fn timeline_errors(app: &TestApp) {
    let (_, _) = seed_timeline(app, "te").await;
    let extra = [customer("te")];
    let both = PageArgs {
        first: Some(3),
        last: Some(3),
        ..PageArgs::default()
    };
    rejected_page(app, Conn::Timeline, &extra, &both, "last").await;
    for n in [0, 501, -1] {
        rejected_page(app, Conn::Timeline, &extra, &PageArgs::first(n), "first").await;
        rejected_page(app, Conn::Timeline, &extra, &PageArgs::last(n), "last").await;
    }
    let t = at(0, 0);
    let cases: [(Vec<Arg>, &str); 6] = [
        (vec![customer("")], "customerId"),
        (
            vec![customer("te"), ("types", "[CommType!]", json!([]))],
            "types",
        ),
        (
            vec![
                customer("te"),
                ("types", "[CommType!]", json!([])),
                ("includeMedia", "Boolean!", json!(false)),
            ],
            "types",
        ),
        (
            vec![
                customer("te"),
                (
                    "at",
                    "TimeRange",
                    json!({ "from": output(t + Duration::microseconds(1)), "until": output(t) }),
                ),
            ],
            "at",
        ),
        (
            vec![
                customer("te"),
                (
                    "at",
                    "TimeRange",
                    json!({ "from": "2026-03-01T01:00:00+02:00", "until": "2026-02-28T17:00:00-05:00" }),
                ),
            ],
            "at",
        ),
        (
            vec![
                customer("te"),
                ("types", "[CommType!]", json!(["EMAIL"])),
                (
                    "at",
                    "TimeRange",
                    json!({ "from": output(t + Duration::days(1)), "until": output(t) }),
                ),
            ],
            "at",
        ),
    ];
    for (args, field) in cases {
        for page in [PageArgs::first(5), PageArgs::last(5)] {
            rejected_page(app, Conn::Timeline, &args, &page, field).await;
        }
    }
    // A literal in the document too.
    let body = app
        .gql(
            "{ timeline(customerId: \"te\", types: []) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "types");
    // No customer at all is a validation error.
    let body = app
        .gql("{ timeline { edges { cursor } } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");

    // from == until: empty, no error.
    let empty = [
        customer("te"),
        (
            "at",
            "TimeRange",
            json!({ "from": output(t), "until": with_offset(t, 7200) }),
        ),
    ];
    let page = fetch(app, Conn::Timeline, &empty, &PageArgs::first(5)).await;
    assert!(page.labels.is_empty() && !page.has_next && !page.has_prev);

    // Cursors.
    let page = fetch(app, Conn::Timeline, &extra, &PageArgs::first(500)).await;
    let comm_cursor = page.cursors[page
        .labels
        .iter()
        .position(|l| l.starts_with("Comm:"))
        .unwrap()]
    .clone();
    let media_cursor = page.cursors[page
        .labels
        .iter()
        .position(|l| l.starts_with("Media:"))
        .unwrap()]
    .clone();
    for c in [&comm_cursor, &media_cursor] {
        // Valid: the rows after it.
        let next = fetch(
            app,
            Conn::Timeline,
            &extra,
            &PageArgs::first(1).after(Some(c.clone())),
        )
        .await;
        let pos = page.cursors.iter().position(|x| x == c).unwrap();
        assert_eq!(next.labels, page.labels[pos + 1..pos + 2]);
        refuses_cursor(app, Conn::Timeline, &extra, c).await;
    }
    let filter = Conn::Comms.filter(json!({ "customerId": "te" }));
    let comms = fetch(app, Conn::Comms, &filter, &PageArgs::first(2)).await;
    let media = fetch(
        app,
        Conn::Media,
        &Conn::Media.filter(json!({ "customerId": "te" })),
        &PageArgs::first(2),
    )
    .await;
    for foreign in [&comms.cursors[1], &media.cursors[1]] {
        refuses_foreign(app, Conn::Timeline, &extra, foreign).await;
        let only = [customer("te"), ("includeMedia", "Boolean!", json!(false))];
        refuses_foreign(app, Conn::Timeline, &only, foreign).await;
    }
}

const SUMMARY: &str = "query($c: String!) { commsSummary(customerId: $c) { customerId total \
    byType { type count } byDirection { direction count } firstAt lastAt lastInboundAt \
    lastOutboundAt awaitingReplySince mediaCount } }";

async fn summary(app: &TestApp, who: &str) -> Value {
    app.data(SUMMARY, json!({ "c": who })).await["commsSummary"].clone()
}

/// `{ byType, byDirection }` from counts in enum order.
fn counts(types: [i64; 6], directions: [i64; 3]) -> (Value, Value) {
    (
        Value::Array(
            TYPES
                .iter()
                .zip(types)
                .map(|(t, n)| json!({ "type": t, "count": n }))
                .collect(),
        ),
        Value::Array(
            DIRECTIONS
                .iter()
                .zip(directions)
                .map(|(d, n)| json!({ "direction": d, "count": n }))
                .collect(),
        ),
    )
}

/// A raw row of `crm_comms_log` with a chosen id and time (SQL for `backend`).
fn comm_sql(
    backend: Backend,
    id: &str,
    who: &str,
    kind: &str,
    direction: &str,
    t: DateTime<Utc>,
) -> String {
    let time = native_time(backend, t, 0);
    format!(
        "INSERT INTO crm_comms_log (id, customer_id, type, direction, attachments, occurred_at, \
         created_at) VALUES ('{id}', '{who}', '{kind}', '{direction}', '[]', {time}, {time})"
    )
}

/// The summary of hand-built customers: counts of all six types and three directions (zeros
/// included, in enum order), first/last times, last inbound/outbound, the three cases of
/// `awaitingReplySince` (and ties by id), `mediaCount`; an unknown customer.
async fn summary_of_hand_built_customers(app: &TestApp) {
    let comm = |who: &str, kind: &str, direction: &str, t: &str| {
        let input =
            json!({ "customerId": who, "type": kind, "direction": direction, "occurredAt": t });
        async move { app.create_comm(input).await }
    };
    // s1: an inbound before the outbounds, two outbounds, then inbounds (the oldest of them,
    // written with an offset, is what awaits a reply) and a note.
    comm("s1", "EMAIL", "INBOUND", "2026-04-30T00:00:00Z").await;
    comm("s1", "SMS", "OUTBOUND", "2026-05-01T12:00:00Z").await;
    comm("s1", "EMAIL", "INBOUND", "2026-05-01T08:00:00Z").await;
    comm("s1", "EMAIL", "OUTBOUND", "2026-05-02T09:00:00Z").await;
    comm("s1", "WHATSAPP", "INBOUND", "2026-05-03T10:00:00.000001Z").await;
    comm("s1", "CALL", "INBOUND", "2026-05-03T11:00:00+02:00").await;
    comm("s1", "NOTE", "INTERNAL", "2026-05-04T00:00:00Z").await;
    // Someone else's, which must not count (a later outbound would end the wait).
    comm("S1", "EMAIL", "OUTBOUND", "2026-06-01T00:00:00Z").await;
    comm("s1x", "EMAIL", "OUTBOUND", "2026-06-01T00:00:00Z").await;
    for (who, n) in [("s1", 2), ("s1x", 1), ("s7", 1)] {
        for i in 0..n {
            app.create_media(
                json!({ "customerId": who, "filename": format!("f{i}"), "nextcloudPath": "/f" }),
            )
            .await;
        }
    }
    let (by_type, by_direction) = counts([3, 1, 1, 1, 1, 0], [4, 2, 1]);
    assert_eq!(
        summary(app, "s1").await,
        json!({
            "customerId": "s1", "total": 7, "byType": by_type, "byDirection": by_direction,
            "firstAt": "2026-04-30T00:00:00.000000Z", "lastAt": "2026-05-04T00:00:00.000000Z",
            "lastInboundAt": "2026-05-03T10:00:00.000001Z",
            "lastOutboundAt": "2026-05-02T09:00:00.000000Z",
            "awaitingReplySince": "2026-05-03T09:00:00.000000Z", "mediaCount": 2,
        })
    );

    // s2: no outbound at all: the oldest inbound awaits.
    comm("s2", "EMAIL", "INBOUND", "2026-05-05T00:00:00Z").await;
    comm("s2", "SMS", "INBOUND", "2026-05-01T00:00:00.000001-01:00").await;
    comm("s2", "NOTE", "INTERNAL", "2026-05-06T00:00:00Z").await;
    comm("s2", "NOTE", "INTERNAL", "2026-04-01T00:00:00Z").await;
    let (by_type, by_direction) = counts([1, 0, 0, 1, 2, 0], [2, 0, 2]);
    assert_eq!(
        summary(app, "s2").await,
        json!({
            "customerId": "s2", "total": 4, "byType": by_type, "byDirection": by_direction,
            "firstAt": "2026-04-01T00:00:00.000000Z", "lastAt": "2026-05-06T00:00:00.000000Z",
            "lastInboundAt": "2026-05-05T00:00:00.000000Z", "lastOutboundAt": null,
            "awaitingReplySince": "2026-05-01T01:00:00.000001Z", "mediaCount": 0,
        })
    );

    // s3: answered: no inbound after the last outbound (a later note does not matter).
    comm("s3", "IN_PERSON", "INBOUND", "2026-05-01T00:00:00Z").await;
    comm("s3", "IN_PERSON", "OUTBOUND", "2026-05-01T00:00:00.000001Z").await;
    comm("s3", "NOTE", "INTERNAL", "2026-05-03T00:00:00Z").await;
    let (by_type, by_direction) = counts([0, 0, 0, 0, 1, 2], [1, 1, 1]);
    assert_eq!(
        summary(app, "s3").await,
        json!({
            "customerId": "s3", "total": 3, "byType": by_type, "byDirection": by_direction,
            "firstAt": "2026-05-01T00:00:00.000000Z", "lastAt": "2026-05-03T00:00:00.000000Z",
            "lastInboundAt": "2026-05-01T00:00:00.000000Z",
            "lastOutboundAt": "2026-05-01T00:00:00.000001Z",
            "awaitingReplySince": null, "mediaCount": 0,
        })
    );

    // s4: outbound only.
    comm("s4", "CALL", "OUTBOUND", "2026-05-01T00:00:00Z").await;
    let (by_type, by_direction) = counts([0, 0, 1, 0, 0, 0], [0, 1, 0]);
    assert_eq!(
        summary(app, "s4").await,
        json!({
            "customerId": "s4", "total": 1, "byType": by_type, "byDirection": by_direction,
            "firstAt": "2026-05-01T00:00:00.000000Z", "lastAt": "2026-05-01T00:00:00.000000Z",
            "lastInboundAt": null, "lastOutboundAt": "2026-05-01T00:00:00.000000Z",
            "awaitingReplySince": null, "mediaCount": 0,
        })
    );

    // s5, s6: an inbound and the newest outbound at the same instant: the order key (then id)
    // decides whether the inbound is newer.
    let backend = app.db.backend;
    let t = Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap() + Duration::microseconds(7);
    for (who, outbound, inbound) in [("s5", "s5-a", "s5-b"), ("s6", "s6-b", "s6-a")] {
        app.exec(&comm_sql(backend, outbound, who, "email", "outbound", t))
            .await;
        app.exec(&comm_sql(backend, inbound, who, "sms", "inbound", t))
            .await;
        app.exec(&comm_sql(
            backend,
            &format!("{who}-0"),
            who,
            "sms",
            "inbound",
            t - Duration::microseconds(1),
        ))
        .await;
    }
    let (by_type, by_direction) = counts([1, 0, 0, 2, 0, 0], [2, 1, 0]);
    for (who, awaiting) in [("s5", json!(output(t))), ("s6", Value::Null)] {
        assert_eq!(
            summary(app, who).await,
            json!({
                "customerId": who, "total": 3, "byType": by_type, "byDirection": by_direction,
                "firstAt": output(t - Duration::microseconds(1)), "lastAt": output(t),
                "lastInboundAt": output(t), "lastOutboundAt": output(t),
                "awaitingReplySince": awaiting, "mediaCount": 0,
            }),
            "{who}"
        );
    }

    // No comms (media only), and nobody at all: zeros and nulls.
    let (by_type, by_direction) = counts([0; 6], [0; 3]);
    for (who, media) in [("s7", 1), ("S7", 0), ("nobody", 0)] {
        assert_eq!(
            summary(app, who).await,
            json!({
                "customerId": who, "total": 0, "byType": by_type, "byDirection": by_direction,
                "firstAt": null, "lastAt": null, "lastInboundAt": null, "lastOutboundAt": null,
                "awaitingReplySince": null, "mediaCount": media,
            }),
            "{who}"
        );
    }
    rejected(app, SUMMARY, json!({ "c": "" }), "customerId").await;
    // "s1 " is not "s1": zeros, or refused.
    let body = app.gql(SUMMARY, json!({ "c": "s1 " })).await;
    if body.get("errors").is_some() {
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    } else {
        assert_eq!(body["data"]["commsSummary"]["total"], 0, "{body}");
        assert_eq!(body["data"]["commsSummary"]["mediaCount"], 0, "{body}");
    }
}

backend_tests!(
    interleaves_comms_and_media,
    types_include_media_and_at,
    timeline_errors,
    summary_of_hand_built_customers,
);

// ---------------------------------------------------------------------------------------------
// Mixed shapes, same answers on every backend
// ---------------------------------------------------------------------------------------------

/// `t` as a SQL literal for `backend`: on SQLite in stored shape `shape` (see
/// [`sqlite_shape`]); on PostgreSQL a `TIMESTAMPTZ` in UTC or at +02:00; on MySQL/MariaDB a
/// `DATETIME` in UTC.
fn native_time(backend: Backend, t: DateTime<Utc>, shape: usize) -> String {
    match backend {
        Backend::Sqlite => format!("'{}'", sqlite_shape(t, shape)),
        Backend::Postgres if shape % 2 == 1 => format!(
            "TIMESTAMPTZ '{}'",
            t.with_timezone(&FixedOffset::east_opt(7200).unwrap())
                .format("%Y-%m-%d %H:%M:%S%.6f+02:00")
        ),
        Backend::Postgres => format!("TIMESTAMPTZ '{}'", t.format("%Y-%m-%d %H:%M:%S%.6f+00")),
        Backend::Mysql => format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.6f")),
    }
}

/// The shapes the seed's Python backend (and other writers) store in SQLite: naive with a
/// space, `Z`, `+02:00`, naive with `T`, `-05:00`, canonical `+00:00`; fractions trimmed or in
/// full.
fn sqlite_shape(t: DateTime<Utc>, shape: usize) -> String {
    let micros = t.timestamp_subsec_micros();
    let full = format!(".{micros:06}");
    let trimmed = if micros == 0 {
        String::new()
    } else {
        full.trim_end_matches('0').to_owned()
    };
    let local = |offset: i32| t.with_timezone(&FixedOffset::east_opt(offset).unwrap());
    match shape % 6 {
        0 => format!("{}{trimmed}", t.format("%Y-%m-%d %H:%M:%S")),
        1 => format!("{}{trimmed}Z", t.format("%Y-%m-%dT%H:%M:%S")),
        2 => format!("{}{full}+02:00", local(7200).format("%Y-%m-%dT%H:%M:%S")),
        3 => format!("{}{full}", t.format("%Y-%m-%dT%H:%M:%S")),
        4 => format!(
            "{}{trimmed}-05:00",
            local(-18000).format("%Y-%m-%dT%H:%M:%S")
        ),
        _ => format!("{}{full}+00:00", t.format("%Y-%m-%dT%H:%M:%S")),
    }
}

/// One row of the shared dataset: id, comm (or media), customer, µs from [`t0`], comm type
/// or MIME type, direction (stored value; empty for none).
type Row = (
    &'static str,
    bool,
    &'static str,
    i64,
    &'static str,
    &'static str,
);

const C: bool = true;
const M: bool = false;

/// Equal instants of both kinds (ties by id both ways), rows 1 µs apart, around a second
/// boundary, far before and after; another customer at the same instants.
const DATASET: [Row; 21] = [
    ("id-07", C, "x", 0, "email", "inbound"),
    ("id-03", C, "x", 0, "note", "internal"),
    ("id-05", M, "x", 0, "image/jpeg", "received"),
    ("id-11", C, "x", 1, "whatsapp", "outbound"),
    ("id-12", M, "x", 1, "application/pdf", "sent"),
    ("id-02", C, "x", 2, "call", "inbound"),
    ("id-09", M, "x", -1, "image/png", ""),
    ("id-14", C, "x", 500_000, "sms", "inbound"),
    ("id-13", M, "x", 500_000, "image/jpeg", "internal"),
    ("id-01", C, "x", 999_999, "email", "outbound"),
    ("id-16", C, "x", 1_000_000, "in_person", "inbound"),
    ("id-18", C, "x", 1_000_000, "email", "inbound"),
    ("id-04", M, "x", 1_000_001, "text/plain", "received"),
    ("id-06", C, "x", -3_600_000_000, "email", "inbound"),
    ("id-10", C, "x", 7_200_000_000, "note", "internal"),
    ("id-08", M, "x", 7_200_000_000, "image/jpeg", "sent"),
    (
        "id-15",
        M,
        "x",
        -86_400_000_000,
        "application/pdf",
        "received",
    ),
    ("id-17", C, "x", -86_400_000_001, "call", "outbound"),
    ("id-20", C, "y", 0, "email", "outbound"),
    ("id-21", M, "y", 1, "image/jpeg", "received"),
    ("id-19", C, "y", 3, "sms", "inbound"),
];

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 0, 47, 39).unwrap()
}

fn row_at(row: &Row) -> DateTime<Utc> {
    t0() + Duration::microseconds(row.3)
}

fn nullable(text: &str) -> String {
    if text.is_empty() {
        "NULL".to_owned()
    } else {
        format!("'{}'", text.replace('\'', "''"))
    }
}

/// The INSERT of dataset row `n` for `backend`, its times in shapes chosen by `n` (or
/// canonical).
fn row_sql(backend: Backend, n: usize, canonical: bool) -> String {
    let row = &DATASET[n];
    let (id, is_comm, who, _, kind, direction) = *row;
    let shape = |k: usize| if canonical { 5 } else { k };
    let t = row_at(row);
    if is_comm {
        let attachments = if n.is_multiple_of(3) {
            "[{\"filename\": \"a.pdf\", \"nextcloud_path\": \"/x/a.pdf\"}]"
        } else {
            "[]"
        };
        let ext = if n.is_multiple_of(2) {
            format!("<{id}@x>")
        } else {
            String::new()
        };
        format!(
            "INSERT INTO crm_comms_log (id, customer_id, type, direction, subject, body, \
             attachments, ext_message_id, logged_by, occurred_at, created_at) VALUES ('{id}', \
             '{who}', '{kind}', '{direction}', 'subject {id}', 'body of {id}', '{attachments}', \
             {}, 'ana', {}, {})",
            nullable(&ext),
            native_time(backend, t, shape(n)),
            native_time(
                backend,
                t + Duration::seconds(3600) + Duration::microseconds(n as i64),
                shape(n + 3)
            ),
        )
    } else {
        let order = if n % 2 == 1 { "o-1" } else { "" };
        format!(
            "INSERT INTO crm_media (id, customer_id, order_id, filename, nextcloud_path, \
             mime_type, direction, tags, uploaded_by, created_at) VALUES ('{id}', '{who}', {}, \
             '{id}.bin', '/Customers/{who}/{id}.bin', '{kind}', {}, '[\"t{}\", \"shared\"]', \
             'py', {})",
            nullable(order),
            nullable(direction),
            n % 3,
            native_time(backend, t, shape(n)),
        )
    }
}

/// Loads the dataset into `app`'s database: on SQLite in mixed shapes, every other row through
/// the system SQLite (another process, while the server runs), or all canonical through the
/// bundled one; native timestamps elsewhere.
async fn load(app: &TestApp, canonical: bool) {
    let backend = app.db.backend;
    let mut python = Vec::new();
    for n in 0..DATASET.len() {
        let sql = row_sql(backend, n, canonical);
        if backend == Backend::Sqlite && !canonical && n % 2 == 1 {
            python.push(sql);
        } else {
            app.exec(&sql).await;
        }
    }
    if !python.is_empty() {
        let path = app.db.path().unwrap();
        let statements: Vec<(&str, Value)> =
            python.iter().map(|sql| (sql.as_str(), json!([]))).collect();
        system_sqlite(&path, &statements);
    }
}

/// The dataset's rows of `who` (comms, media or both) as the model's items, newest first.
fn model(who: Option<&str>, comms: bool, media: bool, timeline: bool) -> Vec<Item> {
    newest_first(
        DATASET
            .iter()
            .filter(|r| who.is_none_or(|w| r.2 == w))
            .filter(|r| if r.1 { comms } else { media })
            .map(|r| Item {
                label: match (timeline, r.1) {
                    (false, _) => r.0.to_owned(),
                    (true, true) => format!("Comm:{}", r.0),
                    (true, false) => format!("Media:{}", r.0),
                },
                id: r.0.to_owned(),
                at: row_at(r),
            })
            .collect(),
    )
}

/// The summary the dataset gives for `who`.
fn expected_summary(who: &str) -> Value {
    let comms: Vec<&Row> = DATASET.iter().filter(|r| r.1 && r.2 == who).collect();
    let key = |r: &Row| (row_at(r), r.0);
    let count_type = |t: &str| comms.iter().filter(|r| r.4 == t.to_lowercase()).count() as i64;
    let count_dir = |d: &str| comms.iter().filter(|r| r.5 == d.to_lowercase()).count() as i64;
    let (by_type, by_direction) = counts(TYPES.map(count_type), DIRECTIONS.map(count_dir));
    let time = |t: Option<DateTime<Utc>>| t.map_or(Value::Null, |t| json!(output(t)));
    let last_of = |d: &str| comms.iter().filter(|r| r.5 == d).map(|r| key(r)).max();
    let newest_out = last_of("outbound");
    let awaiting = comms
        .iter()
        .filter(|r| r.5 == "inbound")
        .map(|r| key(r))
        .filter(|k| newest_out.is_none_or(|o| *k > o))
        .min();
    json!({
        "customerId": who, "total": comms.len(), "byType": by_type, "byDirection": by_direction,
        "firstAt": time(comms.iter().map(|r| row_at(r)).min()),
        "lastAt": time(comms.iter().map(|r| row_at(r)).max()),
        "lastInboundAt": time(last_of("inbound").map(|k| k.0)),
        "lastOutboundAt": time(newest_out.map(|k| k.0)),
        "awaitingReplySince": time(awaiting.map(|k| k.0)),
        "mediaCount": DATASET.iter().filter(|r| !r.1 && r.2 == who).count(),
    })
}

/// The fixed queries of the comparison: (name, connection if one, arguments).
fn fixed_queries() -> Vec<(&'static str, Option<Conn>, Vec<Arg>)> {
    let t = t0();
    let us = Duration::microseconds;
    let filter = |f: Value| ("filter", "CommFilter", f);
    let media_filter = |f: Value| ("filter", "MediaFilter", f);
    let first = ("first", "Int", json!(500));
    vec![
        (
            "comms of x",
            Some(Conn::Comms),
            vec![filter(json!({ "customerId": "x" })), first.clone()],
        ),
        ("inbox", Some(Conn::Comms), vec![first.clone()]),
        (
            "comms of x in [t0, t0 + 2 µs)",
            Some(Conn::Comms),
            vec![
                filter(
                    json!({ "customerId": "x", "occurredAt": { "from": with_offset(t, 7200), "until": with_offset(t + us(2), -18000) } }),
                ),
                first.clone(),
            ],
        ),
        (
            "comms of x in [t0 + 1 µs, t0 + 1 s)",
            Some(Conn::Comms),
            vec![
                filter(
                    json!({ "customerId": "x", "occurredAt": { "from": output(t + us(1)), "until": output(t + us(1_000_000)) } }),
                ),
                first.clone(),
            ],
        ),
        (
            "inbound or outbound emails and calls since t0 - 1 h",
            Some(Conn::Comms),
            vec![
                filter(
                    json!({ "types": ["EMAIL", "CALL"], "directions": ["INBOUND", "OUTBOUND"], "occurredAt": { "from": output(t - Duration::hours(1)) }, "hasAttachments": false }),
                ),
                first.clone(),
            ],
        ),
        (
            "media of x",
            Some(Conn::Media),
            vec![media_filter(json!({ "customerId": "x" })), first.clone()],
        ),
        (
            "media in [t0 - 1 µs, t0 + 1 µs)",
            Some(Conn::Media),
            vec![
                media_filter(
                    json!({ "createdAt": { "from": output(t - us(1)), "until": with_offset(t + us(1), 3600) } }),
                ),
                first.clone(),
            ],
        ),
        (
            "images tagged t0 or t1",
            Some(Conn::Media),
            vec![
                media_filter(
                    json!({ "mimeTypePrefix": "image/", "tags": { "hasAny": ["t0", "t1"], "hasAll": ["shared"] } }),
                ),
                first.clone(),
            ],
        ),
        (
            "timeline of x",
            Some(Conn::Timeline),
            vec![customer("x"), first.clone()],
        ),
        (
            "timeline of y",
            Some(Conn::Timeline),
            vec![customer("y"), first.clone()],
        ),
        (
            "comms of x in the timeline",
            Some(Conn::Timeline),
            vec![
                customer("x"),
                ("includeMedia", "Boolean!", json!(false)),
                first.clone(),
            ],
        ),
        (
            "emails and notes of x in [t0, t0 + 1 s), and media",
            Some(Conn::Timeline),
            vec![
                customer("x"),
                ("types", "[CommType!]", json!(["EMAIL", "NOTE"])),
                (
                    "at",
                    "TimeRange",
                    json!({ "from": output(t), "until": output(t + us(1_000_000)) }),
                ),
                first.clone(),
            ],
        ),
        (
            "the oldest of x's timeline",
            Some(Conn::Timeline),
            vec![customer("x"), ("last", "Int", json!(6))],
        ),
        ("the offset list of x's comms", None, vec![]),
        ("the offset list of x's media", None, vec![]),
    ]
}

/// Runs every query of the comparison on `app` (fixed ones, then walks that follow the
/// answers' cursors) and returns (what, response text) in order.
async fn answers(app: &TestApp) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, conn, args) in fixed_queries() {
        let (doc, vars) = match conn {
            Some(conn) => document(conn.field(), &args, &conn.selection()),
            // One root field per document: async-graphql writes several in the order they
            // finish, not in the document's.
            None if name.ends_with("comms") => (
                format!(
                    "{{ comms(customerId: \"x\", limit: 500) {{ total entries {{ {} }} }} }}",
                    crate::common::COMM_FIELDS
                ),
                json!({}),
            ),
            None => (
                format!(
                    "{{ media(customerId: \"x\") {{ total items {{ {} }} }} }}",
                    crate::common::MEDIA_FIELDS
                ),
                json!({}),
            ),
        };
        out.push((name.to_owned(), app.gql_text(&doc, vars).await));
    }
    for who in ["x", "y", "nobody"] {
        out.push((
            format!("summary of {who}"),
            app.gql_text(SUMMARY, json!({ "c": who })).await,
        ));
    }
    // Walks.
    let walks: [(&str, Conn, Vec<Arg>, i64, bool); 6] = [
        (
            "comms of x by 3",
            Conn::Comms,
            vec![("filter", "CommFilter", json!({ "customerId": "x" }))],
            3,
            true,
        ),
        (
            "comms of x back by 4",
            Conn::Comms,
            vec![("filter", "CommFilter", json!({ "customerId": "x" }))],
            4,
            false,
        ),
        ("inbox by 5", Conn::Comms, vec![], 5, true),
        ("media back by 2", Conn::Media, vec![], 2, false),
        (
            "timeline of x by 4",
            Conn::Timeline,
            vec![customer("x")],
            4,
            true,
        ),
        (
            "timeline of x back by 5",
            Conn::Timeline,
            vec![customer("x")],
            5,
            false,
        ),
    ];
    for (name, conn, extra, size, forward) in walks {
        let mut cursor: Option<String> = None;
        for step in 0.. {
            assert!(step < 30, "{name} does not end");
            let page = if forward {
                PageArgs::first(size).after(cursor.clone())
            } else {
                PageArgs::last(size).before(cursor.clone())
            };
            let mut args = extra.clone();
            args.extend(page.args());
            let (doc, vars) = document(conn.field(), &args, &conn.selection());
            let text = app.gql_text(&doc, vars).await;
            let body: Value = serde_json::from_str(&text).unwrap();
            assert!(body.get("errors").is_none(), "{name}: {text}");
            let page = Page::parse(conn, &body["data"][conn.field()], name);
            out.push((format!("{name}, page {step}"), text));
            let more = if forward {
                page.has_next
            } else {
                page.has_prev
            };
            if !more {
                break;
            }
            cursor = if forward { page.end } else { page.start };
        }
    }
    out
}

/// Checks the answers of the comparison against the dataset (on the first backend; the others
/// must then answer the same text).
fn verify(answers: &[(String, String)]) {
    let find = |name: &str| -> Value {
        let text = &answers.iter().find(|(n, _)| n == name).unwrap().1;
        let body: Value = serde_json::from_str(text).unwrap();
        assert!(body.get("errors").is_none(), "{name}: {text}");
        body["data"].clone()
    };
    let page = |name: &str, conn: Conn| Page::parse(conn, &find(name)[conn.field()], name);
    let t = t0();
    let within = |items: Vec<Item>, from: DateTime<Utc>, until: DateTime<Utc>| {
        labels(
            &items
                .into_iter()
                .filter(|i| i.at >= from && i.at < until)
                .collect::<Vec<_>>(),
        )
    };
    let us = Duration::microseconds;
    assert_eq!(
        page("comms of x", Conn::Comms).labels,
        labels(&model(Some("x"), true, false, false))
    );
    assert_eq!(
        page("inbox", Conn::Comms).labels,
        labels(&model(None, true, false, false))
    );
    assert_eq!(
        page("comms of x in [t0, t0 + 2 µs)", Conn::Comms).labels,
        within(model(Some("x"), true, false, false), t, t + us(2))
    );
    assert_eq!(
        page("comms of x in [t0 + 1 µs, t0 + 1 s)", Conn::Comms).labels,
        within(
            model(Some("x"), true, false, false),
            t + us(1),
            t + us(1_000_000)
        )
    );
    let attached = |id: &str| DATASET.iter().position(|r| r.0 == id).unwrap() % 3 == 0;
    let expected: Vec<String> = model(None, true, false, false)
        .into_iter()
        .filter(|i| {
            let row = DATASET.iter().find(|r| r.0 == i.id).unwrap();
            ["email", "call"].contains(&row.4)
                && ["inbound", "outbound"].contains(&row.5)
                && i.at >= t - Duration::hours(1)
                && !attached(&i.id)
        })
        .map(|i| i.label)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        page(
            "inbound or outbound emails and calls since t0 - 1 h",
            Conn::Comms
        )
        .labels,
        expected
    );
    assert_eq!(
        page("media of x", Conn::Media).labels,
        labels(&model(Some("x"), false, true, false))
    );
    assert_eq!(
        page("media in [t0 - 1 µs, t0 + 1 µs)", Conn::Media).labels,
        within(model(None, false, true, false), t - us(1), t + us(1))
    );
    let images: Vec<String> = model(None, false, true, false)
        .into_iter()
        .filter(|i| {
            let n = DATASET.iter().position(|r| r.0 == i.id).unwrap();
            DATASET[n].4.starts_with("image/") && n % 3 < 2
        })
        .map(|i| i.label)
        .collect();
    assert!(!images.is_empty());
    assert_eq!(page("images tagged t0 or t1", Conn::Media).labels, images);
    let timeline = page("timeline of x", Conn::Timeline);
    assert_eq!(timeline.labels, labels(&model(Some("x"), true, true, true)));
    assert_eq!(
        page("timeline of y", Conn::Timeline).labels,
        labels(&model(Some("y"), true, true, true))
    );
    assert_eq!(
        page("comms of x in the timeline", Conn::Timeline).labels,
        labels(&model(Some("x"), true, false, true))
    );
    let filtered: Vec<String> = model(Some("x"), true, true, true)
        .into_iter()
        .filter(|i| {
            let row = DATASET.iter().find(|r| r.0 == i.id).unwrap();
            (!row.1 || ["email", "note"].contains(&row.4)) && i.at >= t && i.at < t + us(1_000_000)
        })
        .map(|i| i.label)
        .collect();
    assert_eq!(
        page(
            "emails and notes of x in [t0, t0 + 1 s), and media",
            Conn::Timeline
        )
        .labels,
        filtered
    );
    let oldest = page("the oldest of x's timeline", Conn::Timeline);
    let all = labels(&model(Some("x"), true, true, true));
    assert_eq!(oldest.labels, all[all.len() - 6..]);
    assert!(oldest.has_prev && !oldest.has_next);
    // Every stored shape was read as its instant.
    for (node, item) in timeline
        .nodes
        .iter()
        .zip(model(Some("x"), true, true, true))
    {
        let time = if node["__typename"] == "Comm" {
            &node["occurredAt"]
        } else {
            &node["createdAt"]
        };
        assert_eq!(time, &json!(output(item.at)), "{}", item.label);
    }
    let lists = find("the offset list of x's comms");
    let ids: Vec<&str> = lists["comms"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, labels(&model(Some("x"), true, false, false)));
    let lists = find("the offset list of x's media");
    let ids: Vec<&str> = lists["media"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, labels(&model(Some("x"), false, true, false)));
    for who in ["x", "y", "nobody"] {
        assert_eq!(
            find(&format!("summary of {who}"))["commsSummary"],
            expected_summary(who),
            "{who}"
        );
    }
    // The walks give the whole lists.
    for (prefix, expected) in [
        (
            "comms of x by 3",
            labels(&model(Some("x"), true, false, false)),
        ),
        (
            "comms of x back by 4",
            labels(&model(Some("x"), true, false, false)),
        ),
        ("inbox by 5", labels(&model(None, true, false, false))),
        ("media back by 2", labels(&model(None, false, true, false))),
        (
            "timeline of x by 4",
            labels(&model(Some("x"), true, true, true)),
        ),
        (
            "timeline of x back by 5",
            labels(&model(Some("x"), true, true, true)),
        ),
    ] {
        let conn = if prefix.starts_with("timeline") {
            Conn::Timeline
        } else if prefix.starts_with("media") {
            Conn::Media
        } else {
            Conn::Comms
        };
        let mut pages: Vec<Vec<String>> = answers
            .iter()
            .filter(|(n, _)| n.starts_with(&format!("{prefix}, page ")))
            .map(|(n, text)| {
                let body: Value = serde_json::from_str(text).unwrap();
                Page::parse(conn, &body["data"][conn.field()], n).labels
            })
            .collect();
        if prefix.contains("back") {
            pages.reverse();
        }
        assert_eq!(pages.concat(), expected, "{prefix}");
    }
}

/// One dataset, with rows 1 µs apart and equal instants of comms and media: stored on SQLite
/// in six shapes (half of the rows written by the system SQLite while the server runs), on
/// SQLite again all canonical, and with native timestamps on PostgreSQL and MySQL/MariaDB
/// (when configured). The connections, the timeline, the summary and the offset lists are
/// exactly in instant-then-id order, and every backend answers the same text, cursors included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_shapes_same_answers_on_every_backend() {
    // The shapes really differ, and denote the instants.
    let t = row_at(&DATASET[3]);
    let shapes: Vec<String> = (0..6).map(|s| sqlite_shape(t, s)).collect();
    assert_eq!(shapes[0], "2026-11-24 00:47:39.000001");
    assert_eq!(shapes[2], "2026-11-24T02:47:39.000001+02:00");
    assert_eq!(sqlite_shape(t0(), 0), "2026-11-24 00:47:39");
    assert_eq!(
        sqlite_shape(t0() + Duration::milliseconds(500), 1),
        "2026-11-24T00:47:39.5Z"
    );
    for s in &shapes {
        assert_eq!(crm_comms::model::time::stored_instant(s), Some(t), "{s}");
    }

    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite always runs");
    load(&app, false).await;
    let reference = answers(&app).await;
    app.stop().await;
    verify(&reference);

    let mut others = Vec::new();
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    load(&app, true).await;
    others.push(("SQLite, canonical rows", answers(&app).await));
    app.stop().await;
    for (name, backend) in [
        ("PostgreSQL", Backend::Postgres),
        ("MySQL/MariaDB", Backend::Mysql),
    ] {
        if let Some(app) = TestApp::spawn(backend).await {
            load(&app, false).await;
            others.push((name, answers(&app).await));
            app.stop().await;
        }
    }
    // Every difference is listed, not just the first.
    let mut differences = Vec::new();
    for (name, got) in others {
        let names: Vec<&String> = got.iter().map(|(n, _)| n).collect();
        let want: Vec<&String> = reference.iter().map(|(n, _)| n).collect();
        if names != want {
            differences.push(format!("{name} walks other pages: {names:?}"));
        }
        for ((what, text), (_, reference)) in got.iter().zip(&reference) {
            if text != reference {
                differences.push(format!(
                    "{name} answers {what} differently from SQLite:\n  {name}: {text}\n  SQLite: {reference}"
                ));
            }
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
