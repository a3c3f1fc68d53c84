//! Logging and metrics: the `tracing` subscriber of the server binary (text or JSON lines), an
//! opt-in one for tests, and the process's Prometheus recorder.

use crate::config::LogFormat;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The log filter when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn";

/// `RUST_LOG`, or `default_filter` if it is unset or invalid.
fn filter(default_filter: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter))
}

/// Where the log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    /// Each line written to stderr as it happens (one-off commands).
    Direct,
    /// Lines gathered in memory and written to stderr together (see [`Batched`]): the server,
    /// which logs a line per request.
    Batched,
}

/// Flushes the batched log lines when dropped (at the end of `main`, or while unwinding from
/// a panic), so that a clean exit loses none.
#[must_use = "dropping the guard flushes the logs; keep it until the process ends"]
pub struct LogGuard(Batched);

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.0.flush();
    }
}

/// Installs the process's subscriber: logs to stderr, filtered by `RUST_LOG` or else
/// `default_filter` (normally [`DEFAULT_FILTER`]); as text (ANSI colours only when stderr is a
/// terminal) or as one JSON object per line, with the fields of the enclosing spans (a
/// request's id, its GraphQL operation). Panics if a subscriber is already installed.
pub fn init(default_filter: &str, format: LogFormat, output: LogOutput) -> LogGuard {
    let every = (output == LogOutput::Batched).then_some(Batched::EVERY);
    let batched = Batched::start(Box::new(std::io::stderr()), every);
    let builder = tracing_subscriber::fmt()
        .with_writer(batched.clone())
        .with_env_filter(filter(default_filter));
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    LogGuard(batched)
}

/// Log lines gathered in memory and written to stderr by a thread of their own every
/// [`Batched::EVERY`], many in one `write`, instead of one `write` system call per line on
/// the thread that answered the request (5 % of the server's CPU for a small query, by the
/// profile in `docs/performance.md`). Warnings, errors and audit events are written at once
/// (with everything before them, in order); so is everything once [`Batched::LIMIT`] bytes
/// wait, so a stderr that blocks holds up the loggers as before instead of growing the
/// buffer. A process killed outright (SIGKILL) loses at most the last `EVERY` of info lines.
/// With [`LogOutput::Direct`] there is no thread and every line is written at once.
#[derive(Clone)]
pub struct Batched(Arc<BatchedInner>);

struct BatchedInner {
    /// No thread writes: every line is written at once ([`LogOutput::Direct`]).
    direct: bool,
    /// The lines not yet written.
    pending: Mutex<Vec<u8>>,
    /// Where they go (stderr), and the buffer the last batch left in (kept, with its
    /// capacity, for the next swap: no allocation per batch); held while writing, so batches
    /// leave in the order taken.
    out: Mutex<(Box<dyn Write + Send>, Vec<u8>)>,
}

impl Batched {
    /// How long an info line waits at most.
    pub const EVERY: Duration = Duration::from_millis(50);
    /// Bytes waiting that make the next line write them all at once.
    pub const LIMIT: usize = 256 * 1024;

    /// Starts the thread that writes the lines to `out` every `every`; with `None`, no thread,
    /// and every line is written at once. The thread ends with the last handle.
    fn start(out: Box<dyn Write + Send>, every: Option<Duration>) -> Self {
        let batched = Self(Arc::new(BatchedInner {
            direct: every.is_none(),
            pending: Mutex::new(Vec::new()),
            out: Mutex::new((out, Vec::new())),
        }));
        if let Some(every) = every {
            let flusher = Arc::downgrade(&batched.0);
            std::thread::Builder::new()
                .name("log-writer".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(every);
                        match flusher.upgrade() {
                            Some(inner) => Batched(inner).flush(),
                            None => break,
                        }
                    }
                })
                .expect("a thread for the log writer");
        }
        batched
    }

    /// Whether lines of `meta` are written at once: warnings, errors, the audit trail.
    fn is_urgent(meta: &Metadata<'_>) -> bool {
        *meta.level() <= Level::WARN || meta.target() == "crm_comms::audit"
    }

    fn line(&self, urgent: bool) -> BatchedLine<'_> {
        BatchedLine {
            batched: self,
            urgent: urgent || self.0.direct,
        }
    }

    /// Writes every waiting line out.
    pub fn flush(&self) {
        let mut out = self.0.out.lock().unwrap_or_else(|e| e.into_inner());
        let (out, batch) = &mut *out;
        std::mem::swap(
            batch,
            &mut *self.0.pending.lock().unwrap_or_else(|e| e.into_inner()),
        );
        if !batch.is_empty() {
            // Nowhere to report a failed write of the log itself.
            let _ = out.write_all(batch);
            let _ = out.flush();
            batch.clear();
            // A burst of long lines does not keep its buffer.
            batch.shrink_to(2 * Self::LIMIT);
        }
    }
}

impl<'a> MakeWriter<'a> for Batched {
    type Writer = BatchedLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        self.line(true)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        self.line(Self::is_urgent(meta))
    }
}

/// One event's bytes, appended to the waiting lines.
pub struct BatchedLine<'a> {
    batched: &'a Batched,
    urgent: bool,
}

impl Write for BatchedLine<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let waiting = {
            let mut pending = self
                .batched
                .0
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            pending.extend_from_slice(buf);
            pending.len()
        };
        if self.urgent || waiting >= Batched::LIMIT {
            self.batched.flush();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process's Prometheus recorder, installed on first use (one per process, shared by every
/// app a test binary starts).
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        const SECONDS: [f64; 14] = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        const SIZES: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
                &SECONDS,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full("crm_writer_batch_size".into()),
                    &SIZES,
                )
            })
            .expect("valid buckets")
            .install_recorder()
            .expect("the only metrics recorder of the process")
    })
}

/// For tests: installs a subscriber that writes to the running test's captured output (shown
/// when it fails, or always with `--nocapture`), without colours, filtered like [`init`]. Does
/// nothing if a subscriber is already installed. Call it once per test binary, and only when
/// logs are wanted (the harness does when `TEST_LOG` is set).
pub fn init_for_tests(default_filter: &str) {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_ansi(false)
        .with_env_filter(filter(default_filter))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test reads back.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    const NEVER: Duration = Duration::from_secs(3600);

    #[test]
    fn info_lines_wait_and_leave_together_in_order() {
        let sink = Sink::default();
        let batched = Batched::start(Box::new(sink.clone()), Some(NEVER));
        batched.line(false).write_all(b"one\n").unwrap();
        batched.line(false).write_all(b"two\n").unwrap();
        assert_eq!(sink.text(), "");
        batched.flush();
        assert_eq!(sink.text(), "one\ntwo\n");
        batched.flush();
        assert_eq!(sink.text(), "one\ntwo\n");
    }

    #[test]
    fn an_urgent_line_leaves_at_once_with_everything_before_it() {
        let sink = Sink::default();
        let batched = Batched::start(Box::new(sink.clone()), Some(NEVER));
        batched.line(false).write_all(b"request\n").unwrap();
        batched.line(true).write_all(b"warning\n").unwrap();
        assert_eq!(sink.text(), "request\nwarning\n");
    }

    #[test]
    fn without_a_thread_every_line_leaves_at_once() {
        let sink = Sink::default();
        let batched = Batched::start(Box::new(sink.clone()), None);
        batched.line(false).write_all(b"one\n").unwrap();
        assert_eq!(sink.text(), "one\n");
    }

    #[test]
    fn a_full_buffer_is_written_by_the_next_line() {
        let sink = Sink::default();
        let batched = Batched::start(Box::new(sink.clone()), Some(NEVER));
        let line = vec![b'x'; 1023];
        let mut written = 0;
        while written + 1024 < Batched::LIMIT {
            batched.line(false).write_all(&line).unwrap();
            batched.line(false).write_all(b"\n").unwrap();
            written += 1024;
        }
        assert_eq!(sink.text(), "");
        batched.line(false).write_all(&line).unwrap();
        batched.line(false).write_all(b"\n").unwrap();
        assert_eq!(sink.text().len(), written + 1024);
    }

    #[test]
    fn the_thread_writes_waiting_lines_on_its_own() {
        let sink = Sink::default();
        let batched = Batched::start(Box::new(sink.clone()), Some(Duration::from_millis(10)));
        batched.line(false).write_all(b"later\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while sink.text().is_empty() {
            assert!(std::time::Instant::now() < deadline, "never written");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sink.text(), "later\n");
    }

    #[test]
    fn warnings_and_the_audit_trail_are_urgent() {
        use tracing::callsite::DefaultCallsite;
        use tracing::metadata::Kind;
        macro_rules! meta {
            ($level:expr, $target:expr) => {{
                static CALLSITE: DefaultCallsite = DefaultCallsite::new(&META);
                static META: Metadata<'static> = tracing::metadata!(
                    name: "event",
                    target: $target,
                    level: $level,
                    fields: &[],
                    callsite: &CALLSITE,
                    kind: Kind::EVENT,
                );
                &META
            }};
        }
        assert!(Batched::is_urgent(meta!(Level::ERROR, "crm_comms::http")));
        assert!(Batched::is_urgent(meta!(Level::WARN, "crm_comms::store")));
        assert!(Batched::is_urgent(meta!(Level::INFO, "crm_comms::audit")));
        assert!(!Batched::is_urgent(meta!(
            Level::INFO,
            "tower_http::trace::on_response"
        )));
        assert!(!Batched::is_urgent(meta!(Level::DEBUG, "crm_comms::store")));
    }
}
