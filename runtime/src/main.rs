//! `ferry`: a Kafka Connect-compatible worker.
//!
//! `ferry standalone WORKER.properties CONNECTOR.properties|json...` has the argument
//! shape of `connect-standalone.sh`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, reload};

use ferry_runtime::config::files::{load_connector_config, load_worker_config};
use ferry_runtime::config::worker::WorkerConfig;
use ferry_runtime::herder::{Herder, StandaloneHerder};
use ferry_runtime::plugins::Registry;
use ferry_runtime::rest::{self, AppState};
use ferry_runtime::storage::{FileOffsetStore, StatusStore};
use ferry_runtime::worker::WorkerContext;

#[derive(Parser, Debug)]
#[command(
    name = "ferry",
    version,
    about = "A Kafka Connect-compatible worker without a JVM"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a standalone worker: one process, offsets in a local file.
    Standalone {
        /// The worker's properties (bootstrap.servers, converters, offset file, listeners...).
        worker_config: PathBuf,
        /// Connector configs to start, as .properties or JSON.
        connector_configs: Vec<PathBuf>,
    },
}

/// Initialises logging; returns a function that swaps the filter (for /admin/loggers).
fn init_logging() -> (String, rest::ReloadFn) {
    let initial = std::env::var("FERRY_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let filter = EnvFilter::try_new(&initial).unwrap_or_else(|_| EnvFilter::new("info"));
    let (layer, handle) = reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(layer)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .init();
    let reload: rest::ReloadFn = Arc::new(move |directives: &str| {
        let f = EnvFilter::try_new(directives)
            .map_err(|e| format!("invalid log directives {directives}: {e}"))?;
        handle.reload(f).map_err(|e| e.to_string())
    });
    let root = initial
        .split(',')
        .find(|d| !d.contains('='))
        .unwrap_or("info")
        .to_owned();
    (root, reload)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ferry: could not start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferry: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let (root_level, reload) = init_logging();
    match cli.command {
        Command::Standalone {
            worker_config,
            connector_configs,
        } => standalone(worker_config, connector_configs, root_level, reload).await,
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

async fn standalone(
    worker_path: PathBuf,
    connector_paths: Vec<PathBuf>,
    root_level: String,
    reload: rest::ReloadFn,
) -> Result<()> {
    let props = load_worker_config(&worker_path)?;
    let config = WorkerConfig::standalone(&props)
        .with_context(|| format!("invalid worker config {}", worker_path.display()))?;
    // Read every connector file before starting anything, so a typo fails fast.
    let mut connectors = Vec::new();
    for path in &connector_paths {
        let file = load_connector_config(path)?;
        let name = file
            .name
            .clone()
            .or_else(|| file.config.get("name").cloned())
            .with_context(|| format!("connector config {} has no name", path.display()))?;
        connectors.push((path.clone(), name, file.config));
    }
    let offset_file = config
        .offset_file
        .clone()
        .context("offset.storage.file.filename must be set")?;
    let offsets = Arc::new(FileOffsetStore::open(&offset_file)?);

    let listener = tokio::net::TcpListener::bind(config.rest_addr)
        .await
        .with_context(|| format!("could not listen on {} for the REST API", config.rest_addr))?;
    let bound = listener.local_addr()?;
    let host = props
        .get("rest.advertised.host.name")
        .cloned()
        .unwrap_or_else(|| {
            if bound.ip().is_unspecified() {
                hostname()
            } else {
                bound.ip().to_string()
            }
        });
    let port = props
        .get("rest.advertised.port")
        .cloned()
        .unwrap_or_else(|| bound.port().to_string());
    let worker_id = format!("{host}:{port}");

    let ctx = WorkerContext {
        worker_id: worker_id.clone(),
        config: Arc::new(config),
        registry: Arc::new(Registry::builtin()),
        offsets,
        status: Arc::new(StatusStore::default()),
    };
    let herder: Arc<dyn Herder> = Arc::new(StandaloneHerder::start(ctx.clone()));
    let mut state = AppState::new(herder.clone());
    state.loggers = rest::Loggers::with_reload(&root_level, reload);
    rest::spawn_cluster_id_lookup(&state, &ctx);
    let app = rest::app(state);
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
    });
    tracing::info!(worker_id, rest = %bound, "Ferry standalone worker started");

    for (path, name, config) in connectors {
        if let Err(e) = herder.create(name.clone(), config, None).await {
            herder.shutdown().await;
            bail!(
                "could not start connector {name} from {}: {e}",
                path.display()
            );
        }
        tracing::info!(connector = name, "connector created");
    }

    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "REST server failed"),
        Err(e) => tracing::error!(error = %e, "REST server task failed"),
    }
    tracing::info!("stopping connectors");
    herder.shutdown().await;
    tracing::info!("Ferry stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
