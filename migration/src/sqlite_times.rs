//! SQLite only: every stored instant in one canonical TEXT format, so that the plain column is
//! an exact order key that every SQLite version computes alike.
//!
//! The canonical format is `2026-11-24T00:47:39.123456+00:00`: fixed width, UTC, microseconds.
//! It is what crm-comms writes and what the seed's Python backend writes for an aware UTC
//! `datetime` (so Python's `datetime.fromisoformat` still parses it). Compared as TEXT (binary
//! collation), two canonical values order exactly as their instants, to the microsecond, so
//! the timeline indexes are on the plain columns: no expression, nothing that one SQLite version
//! could compute differently from another (the `julianday()` key this replaces did, and the
//! seed's older SQLite then reported the index as corrupt).
//!
//! Rows written by another process (the seed's Python backend) may carry any ISO-8601 shape
//! (`…Z`, `…+02:00`, naive = UTC, a space instead of `T`, 0 to 9 fraction digits, no seconds).
//! Triggers bring them to the canonical format in the same statement that wrote them, using only
//! functions every SQLite since 3.8 has (`substr`, `instr`, `strftime` on whole seconds,
//! `GLOB`); their result is stored data, never an index key. A value that is no valid instant
//! is left as it is.

/// A `GLOB` pattern that matches exactly the canonical shape.
pub const CANONICAL_GLOB: &str = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]+00:00";

/// An SQL expression that is `value` (an SQL expression) in the canonical format when it is an
/// ISO-8601 instant, and `value` unchanged otherwise (NULL, not text, not an instant).
///
/// Fractions are truncated to microseconds, as crm-comms' own parser does; a naive time is UTC.
/// The whole seconds are converted to UTC by `strftime`, which is exact for whole seconds in
/// every SQLite version; the fraction is copied as digits.
pub fn canonical_sql(value: &str) -> String {
    // The shapes most writers use, UTC with `Z` (`…T12:34:56Z`, `…T12:34:56.789Z`), without
    // the general road's nested selects (a first start over a million seed rows evaluates this
    // for every row): the same checks and the same result as that road gives them.
    let date_time = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]";
    let seconds = format!("substr({value}, 1, 19)");
    let valid = format!("strftime('%Y-%m-%dT%H:%M:%S', {seconds}, '+0 seconds') = {seconds}");
    let digits = format!("substr({value}, 21, length({value}) - 21)");
    format!(
        "(CASE WHEN typeof({value}) != 'text' THEN {value} \
           WHEN {value} GLOB '{date_time}Z' AND {valid} THEN {seconds} || '.000000+00:00' \
           WHEN {value} GLOB '{date_time}.[0-9]*Z' AND {digits} NOT GLOB '*[^0-9]*' AND {valid} \
             THEN {seconds} || '.' || substr({digits} || '000000', 1, 6) || '+00:00' \
           ELSE {} END)",
        general_sql(value)
    )
}

/// [`canonical_sql`] for every shape.
fn general_sql(value: &str) -> String {
    // Split into date, separator, time (minutes-only shapes get `:00`), fraction and offset.
    let parts = format!(
        "SELECT t, substr(t, 1, 10) AS d, substr(t, 11, 1) AS sep, \
           CASE WHEN substr(t, 17, 1) = ':' THEN substr(t, 12, 8) ELSE substr(t, 12, 5) || ':00' END AS hms, \
           CASE WHEN substr(t, 17, 1) = ':' THEN substr(t, 20) ELSE substr(t, 17) END AS rest, \
           substr(t, 17, 1) = ':' AS secs \
         FROM (SELECT {value} AS t)"
    );
    let split = format!(
        "SELECT t, d, sep, hms, secs, substr(rest, 1, p - 1) AS frac, substr(rest, p) AS tz FROM ( \
           SELECT t, d, sep, hms, secs, rest, \
             CASE WHEN instr(rest, 'Z') > 0 THEN instr(rest, 'Z') \
                  WHEN instr(rest, '+') > 0 THEN instr(rest, '+') \
                  WHEN instr(rest, '-') > 0 THEN instr(rest, '-') \
                  ELSE length(rest) + 1 END AS p \
           FROM ({parts}))"
    );
    format!(
        "(SELECT CASE WHEN typeof(t) = 'text' \
            AND d GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' AND sep IN ('T', ' ') \
            AND hms GLOB '[0-9][0-9]:[0-9][0-9]:[0-9][0-9]' \
            AND (frac = '' OR (secs AND frac GLOB '.[0-9]*' AND substr(frac, 2) NOT GLOB '*[^0-9]*')) \
            AND (tz IN ('', 'Z') OR tz GLOB '[+-][0-9][0-9]:[0-9][0-9]') \
            AND strftime('%Y-%m-%dT%H:%M:%S', d || 'T' || hms, '+0 seconds') = d || 'T' || hms \
          THEN coalesce(strftime('%Y-%m-%dT%H:%M:%S', d || 'T' || hms || CASE tz WHEN 'Z' THEN '' ELSE tz END) \
            || '.' || substr(substr(frac, 2) || '000000', 1, 6) || '+00:00', t) \
          ELSE t END FROM ({split}))"
    )
}

/// Whether `column` of the row `row` (`NEW`, or empty for the updated row) is not canonical but
/// can be made so: the cheap `GLOB` first, so a canonical row costs one pattern match.
fn needs_rewrite(row: &str, columns: &[&str]) -> String {
    let prefix = if row.is_empty() {
        String::new()
    } else {
        format!("{row}.")
    };
    let canonical = columns
        .iter()
        .map(|c| format!("{prefix}{c} GLOB '{CANONICAL_GLOB}'"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let convertible = columns
        .iter()
        .map(|c| {
            format!(
                "{} IS NOT {prefix}{c}",
                canonical_sql(&format!("{prefix}{c}"))
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    format!("NOT ({canonical}) AND ({convertible})")
}

/// The tables and their instant columns.
pub const TABLES: [(&str, &[&str]); 2] = [
    ("crm_comms_log", &["occurred_at", "created_at"]),
    ("crm_media", &["created_at"]),
];

/// Names of the triggers [`statements`] creates.
pub const TRIGGERS: [&str; 4] = [
    "crm_comms_log_canonical_times_insert",
    "crm_comms_log_canonical_times_update",
    "crm_media_canonical_time_insert",
    "crm_media_canonical_time_update",
];

/// Rewrites every stored instant that is not canonical, and creates the triggers that keep
/// later writes canonical. Idempotent; run in one transaction.
pub fn statements() -> Vec<String> {
    let mut out = Vec::new();
    let mut triggers = TRIGGERS.iter();
    for (table, columns) in TABLES {
        let set = columns
            .iter()
            .map(|c| format!("{c} = {}", canonical_sql(c)))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(format!(
            "UPDATE {table} SET {set} WHERE {}",
            needs_rewrite("", columns)
        ));
        let update = format!("UPDATE {table} SET {set} WHERE rowid = NEW.rowid;");
        let when = needs_rewrite("NEW", columns);
        out.push(format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER INSERT ON {table} FOR EACH ROW \
             WHEN {when} BEGIN {update} END",
            triggers.next().expect("two triggers per table")
        ));
        out.push(format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER UPDATE OF {} ON {table} FOR EACH ROW \
             WHEN {when} BEGIN {update} END",
            triggers.next().expect("two triggers per table"),
            columns.join(", ")
        ));
    }
    out
}
