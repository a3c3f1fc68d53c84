//! Logging and metrics: the `tracing` subscriber of the server binary (text or JSON lines), an
//! opt-in one for tests, and the process's Prometheus recorder.

use crate::config::LogFormat;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;

/// The log filter when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn";

/// `RUST_LOG`, or `default_filter` if it is unset or invalid.
fn filter(default_filter: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter))
}

/// Installs the process's subscriber: logs to stderr, filtered by `RUST_LOG` or else
/// `default_filter` (normally [`DEFAULT_FILTER`]); as text (ANSI colours only when stderr is a
/// terminal) or as one JSON object per line, with the fields of the enclosing spans (a
/// request's id, its GraphQL operation). Panics if a subscriber is already installed.
pub fn init(default_filter: &str, format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
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
