use clap::Parser;
use crm_comms::config::{Cli, Command};

/// jemalloc instead of glibc malloc: a timeline answer is a few thousand small allocations
/// freed on other threads; measured 1.3× more Q1 answers per CPU-second at ~50 MiB peak RSS
/// (mimalloc was faster still but peaked at 87 MiB; `docs/performance.md`).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    crm_comms::telemetry::init(crm_comms::telemetry::DEFAULT_FILTER, cli.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::ExportSchema { output } => {
            let sdl = crm_comms::graphql::sdl();
            match output {
                Some(path) => std::fs::write(path, sdl)?,
                None => print!("{sdl}"),
            }
        }
        Command::Migrate => {
            crm_comms::store::migrate(&cli.db).await?;
            tracing::info!("migrations applied");
        }
        Command::Serve => {
            let config = crm_comms::config::AppConfig {
                server: cli.server,
                db: cli.db,
                auth: cli.auth,
            };
            let app = crm_comms::http::build(&config).await?;
            let listener = tokio::net::TcpListener::bind(config.server.bind).await?;
            tracing::info!(address = %listener.local_addr()?, "crm-comms listening; GraphiQL at /graphql");
            crm_comms::http::serve(listener, app, crm_comms::http::shutdown_signal()).await?;
            tracing::info!("stopped");
        }
    }
    Ok(())
}
