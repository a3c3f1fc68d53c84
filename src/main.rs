use clap::Parser;
use crm_comms::config::{Cli, Command};

/// jemalloc instead of glibc malloc: a timeline answer is a few thousand small allocations
/// freed on other threads; measured 1.3× more Q1 answers per CPU-second at ~50 MiB peak RSS
/// (mimalloc was faster still but peaked at 87 MiB; `docs/performance.md`).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut cli = Cli::parse();
    let command = cli.command.take().unwrap_or(Command::Serve);
    // The server logs a line per request: batched. One-off commands log as they go.
    let output = match command {
        Command::Serve => crm_comms::telemetry::LogOutput::Batched,
        _ => crm_comms::telemetry::LogOutput::Direct,
    };
    let _log =
        crm_comms::telemetry::init(crm_comms::telemetry::DEFAULT_FILTER, cli.log_format, output);
    match command {
        Command::ExportSchema { output } => {
            let sdl = crm_comms::graphql::sdl();
            match output {
                Some(path) => std::fs::write(path, sdl)?,
                None => print!("{sdl}"),
            }
        }
        Command::Import { file, dry_run } => {
            crm_comms::store::migrate(&cli.db).await?;
            let (store, _writer) = crm_comms::store::Store::open(&cli.db).await?;
            let service = crm_comms::service::Service::new(store);
            let stdin = std::io::stdin();
            let (reader, size): (Box<dyn std::io::BufRead>, Option<u64>) =
                if file.as_os_str() == "-" {
                    (Box::new(stdin.lock()), None)
                } else {
                    let opened = std::fs::File::open(&file)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                    let size = opened.metadata().ok().map(|m| m.len());
                    (Box::new(std::io::BufReader::new(opened)), size)
                };
            let mut errors = std::io::stderr();
            let summary =
                crm_comms::import::run(&service, reader, size, dry_run, &mut errors).await?;
            println!(
                "{} lines: {} created, {} duplicates, {} rejected{}",
                summary.lines,
                summary.created,
                summary.duplicates,
                summary.rejected,
                if dry_run {
                    " (dry run: nothing written)"
                } else {
                    ""
                }
            );
            if summary.rejected > 0 {
                std::process::exit(1);
            }
        }
        Command::Backup { output } => {
            anyhow::ensure!(
                cli.db.is_sqlite(),
                "crm-comms backup copies SQLite files; back up PostgreSQL with \
                 `pg_dump --format=custom --no-owner --file=crm.dump \"$DATABASE_URL\"` and \
                 MySQL/MariaDB with `mysqldump --single-transaction --routines --triggers \
                 --default-character-set=utf8mb4 crm > crm.sql` (see the README)"
            );
            let source = crm_comms::store::sqlite_path(&cli.db.database_url)?;
            let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
                let bar = indicatif::ProgressBar::new(0);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{bar:40} {pos}/{len} pages ({percent}%) {elapsed}",
                    )
                    .expect("a valid template"),
                );
                bar
            });
            let started = std::time::Instant::now();
            let copied = crm_comms::store::sqlite::backup::backup(
                &source,
                &output,
                std::time::Duration::from_millis(cli.db.sqlite_busy_timeout_ms),
                |done, all| {
                    if let Some(bar) = &bar {
                        bar.set_length(all);
                        bar.set_position(done);
                    }
                },
            )?;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            println!(
                "{} -> {}: {} pages, {:.1} MiB in {:.1} s; integrity_check ok",
                source.display(),
                output.display(),
                copied.pages,
                copied.bytes as f64 / 1048576.0,
                started.elapsed().as_secs_f64()
            );
        }
        Command::Migrate => {
            crm_comms::store::migrate(&cli.db).await?;
            tracing::info!("migrations applied");
            // The one-time work a first start would do in the background: the search index
            // of rows that existed before it.
            let (store, writer) = crm_comms::store::Store::open(&cli.db).await?;
            store.search_built().await;
            drop(store);
            writer.await?;
        }
        Command::Serve => {
            let config = crm_comms::config::AppConfig {
                server: cli.server,
                db: cli.db,
                auth: cli.auth,
            };
            let listener = tokio::net::TcpListener::bind(config.server.bind).await?;
            tracing::info!(address = %listener.local_addr()?, "crm-comms starting: /healthz answers, the API once the database is ready");
            let (app, listener) = crm_comms::http::build_serving_health(&config, listener).await?;
            tracing::info!(address = %listener.local_addr()?, "crm-comms listening; GraphiQL at /graphql");
            crm_comms::http::serve(listener, app, crm_comms::http::shutdown_signal()).await?;
            tracing::info!("stopped");
        }
    }
    Ok(())
}
