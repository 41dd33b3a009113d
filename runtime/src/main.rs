//! `ferry`: a Kafka Connect-compatible worker.
//!
//! `ferry standalone WORKER.properties CONNECTOR.properties|json...` has the argument
//! shape of `connect-standalone.sh`; `ferry load|list|status|...` drive a running worker
//! through its REST API (see `ferry_runtime::cli`).

/// mimalloc: records are allocated by one task and freed by another, which glibc's
/// arenas handle poorly; per record it costs 10-25% less CPU (README, Benchmarks).
/// Transparent huge pages are off (the `no_thp` build), see [`tune_allocator`].
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps the worker's memory close to what it uses: freed pages go back to the OS after
/// 10 ms instead of mimalloc 3's 1 s, and no full pages are kept per size class. With the
/// defaults the FileStream pipeline peaked at ~51 MB, with these at ~44-47 MB (glibc ~47).
#[allow(unsafe_code)]
fn tune_allocator() {
    // Indices of `mi_option_t` in mimalloc 3.3 (libmimalloc-sys is pinned to =0.1.49,
    // whose bindings do not name these two).
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    const PAGE_FULL_RETAIN: libmimalloc_sys::mi_option_t = 36;
    // SAFETY: plain setters of global integer options; any value is valid.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 10);
        libmimalloc_sys::mi_option_set(PAGE_FULL_RETAIN, 0);
    }
}

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, reload};

use ferry_runtime::cluster::MembershipConfig;
use ferry_runtime::config::files::{apply_overrides, load_connector_config, load_worker_config};
use ferry_runtime::config::providers::ConfigProviders;
use ferry_runtime::config::worker::WorkerConfig;
use ferry_runtime::herder::{DistributedHerder, DistributedSettings, Herder, StandaloneHerder};
use ferry_runtime::plugins::Registry;
use ferry_runtime::rest::{self, AppState};
use ferry_runtime::storage::kafka::{
    ConfigLog, KafkaOffsetStore, KafkaStatusLog, KafkaStorageConfig,
};
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
    /// Run a distributed worker: workers with the same group.id form one cluster and keep
    /// their state in Kafka Connect's internal topics.
    Distributed {
        /// The worker's properties (bootstrap.servers, group.id, internal topics, listeners...).
        worker_config: PathBuf,
        /// Sets one worker property over the file's value, as KEY=VALUE (repeatable); e.g. the
        /// operator passes each pod's `rest.advertised.host.name` this way.
        #[arg(long = "override", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Print generated reference documentation.
    Docs {
        #[command(subcommand)]
        doc: DocsCommand,
    },
    #[command(flatten)]
    Client(ferry_runtime::cli::ClientCommand),
}

#[derive(Subcommand, Debug)]
enum DocsCommand {
    /// Every config key of the worker, the connectors and the converters, as Markdown
    /// (docs/configuration.md).
    Config,
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
    tune_allocator();
    let cli = Cli::parse();
    let cli = match cli.command {
        Command::Client(cmd) => return client(cmd),
        Command::Docs {
            doc: DocsCommand::Config,
        } => {
            print!(
                "{}",
                ferry_runtime::docs::configuration_reference(&Registry::builtin())
            );
            return std::process::ExitCode::SUCCESS;
        }
        command => Cli { command },
    };
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

/// Runs a client subcommand: its output on stdout, a failure on stderr with exit status 1.
fn client(cmd: ferry_runtime::cli::ClientCommand) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ferry: could not start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(ferry_runtime::cli::run(cmd)) {
        Ok(out) => {
            print_out(&out);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            match ferry_runtime::cli::invalid_report(&e) {
                Some(report) => print_out(report),
                None => eprintln!("ferry: error: {e:#}"),
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// Writes a client command's output to stdout. A reader that went away (`ferry list | head
/// -1`) is not an error worth a panic: the rest of the output is simply not wanted.
fn print_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", text.trim_end()).and_then(|()| out.flush());
}

async fn run(cli: Cli) -> Result<()> {
    let (root_level, reload) = init_logging();
    match cli.command {
        Command::Standalone {
            worker_config,
            connector_configs,
        } => standalone(worker_config, connector_configs, root_level, reload).await,
        Command::Distributed {
            worker_config,
            overrides,
        } => distributed(worker_config, &overrides, root_level, reload).await,
        Command::Client(_) | Command::Docs { .. } => Ok(()),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The REST listener, bound before anything starts so a taken port fails fast, and the
/// worker id (`host:port` as advertised, as Kafka Connect names workers).
struct Rest {
    listener: tokio::net::TcpListener,
    bound: std::net::SocketAddr,
    worker_id: String,
}

async fn bind_rest(config: &WorkerConfig, props: &ferry_runtime::config::Props) -> Result<Rest> {
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
    Ok(Rest {
        listener,
        bound,
        worker_id: format!("{host}:{port}"),
    })
}

/// Serves the REST API until SIGTERM/SIGINT; `after_start` runs once it answers.
async fn serve(
    rest: Rest,
    ctx: &WorkerContext,
    herder: Arc<dyn Herder>,
    root_level: &str,
    reload: rest::ReloadFn,
    mode: &str,
    after_start: impl std::future::Future<Output = Result<()>>,
) -> Result<()> {
    let mut state = AppState::new(herder.clone());
    state.loggers = rest::Loggers::with_reload(root_level, reload);
    rest::spawn_cluster_id_lookup(&state, ctx);
    let app = rest::app(state);
    let listener = rest.listener;
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
    });
    tracing::info!(worker_id = %rest.worker_id, rest = %rest.bound, "Ferry {mode} worker started");
    if let Err(e) = after_start.await {
        herder.shutdown().await;
        server.abort();
        return Err(e);
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

async fn standalone(
    worker_path: PathBuf,
    connector_paths: Vec<PathBuf>,
    root_level: String,
    reload: rest::ReloadFn,
) -> Result<()> {
    let props = load_worker_config(&worker_path)?;
    // As Kafka's worker, the worker's own settings may use its config providers too.
    let providers = Arc::new(
        ConfigProviders::from_worker(&props)
            .with_context(|| format!("invalid worker config {}", worker_path.display()))?,
    );
    let props = providers
        .resolve(&props, "the worker")
        .await
        .with_context(|| format!("invalid worker config {}", worker_path.display()))?;
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
    let rest = bind_rest(&config, &props).await?;
    let ctx = WorkerContext {
        worker_id: rest.worker_id.clone(),
        config: Arc::new(config),
        registry: Arc::new(Registry::builtin()),
        offsets,
        status: Arc::new(StatusStore::default()),
        providers,
        metrics: Arc::default(),
    };
    let standalone = StandaloneHerder::start(ctx.clone());
    standalone.set_starting();
    let herder: Arc<dyn Herder> = Arc::new(standalone.clone());
    let h = herder.clone();
    let create_all = async move {
        for (path, name, config) in connectors {
            h.create(name.clone(), config, None)
                .await
                .with_context(|| {
                    format!("could not start connector {name} from {}", path.display())
                })?;
            tracing::info!(connector = name, "connector created");
        }
        standalone.set_ready();
        Ok(())
    };
    serve(
        rest,
        &ctx,
        herder,
        &root_level,
        reload,
        "standalone",
        create_all,
    )
    .await
}

async fn distributed(
    worker_path: PathBuf,
    overrides: &[String],
    root_level: String,
    reload: rest::ReloadFn,
) -> Result<()> {
    let mut props = load_worker_config(&worker_path)?;
    apply_overrides(&mut props, overrides)?;
    // As Kafka's worker, the worker's own settings may use its config providers too.
    let providers = Arc::new(
        ConfigProviders::from_worker(&props)
            .with_context(|| format!("invalid worker config {}", worker_path.display()))?,
    );
    let props = providers
        .resolve(&props, "the worker")
        .await
        .with_context(|| format!("invalid worker config {}", worker_path.display()))?;
    let config = WorkerConfig::distributed(&props)
        .with_context(|| format!("invalid worker config {}", worker_path.display()))?;
    let mut membership = MembershipConfig::from_worker(&props)
        .with_context(|| format!("invalid worker config {}", worker_path.display()))?;
    let storage = KafkaStorageConfig::from_worker(&config)?;
    let rest = bind_rest(&config, &props).await?;
    if membership.client_id == MembershipConfig::new(Vec::new(), "").client_id {
        membership.client_id = format!("connect-{}", rest.worker_id);
    }
    let max_delay = props
        .get("scheduled.rebalance.max.delay.ms")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(300_000);

    // Read the cluster's state before taking part in it.
    let status = Arc::new(StatusStore::default());
    let config_log = Arc::new(ConfigLog::start(&storage).await?);
    let status_log = KafkaStatusLog::start(&storage, status.clone()).await?;
    let offsets = Arc::new(KafkaOffsetStore::start(&storage).await?);
    let ctx = WorkerContext {
        worker_id: rest.worker_id.clone(),
        config: Arc::new(config),
        registry: Arc::new(Registry::builtin()),
        offsets,
        status,
        providers,
        metrics: Arc::default(),
    };
    let settings = DistributedSettings {
        membership,
        url: format!("http://{}", rest.worker_id),
        max_delay: Duration::from_millis(max_delay),
    };
    let herder: Arc<dyn Herder> =
        Arc::new(DistributedHerder::start(ctx.clone(), config_log, settings)?);
    let result = serve(
        rest,
        &ctx,
        herder,
        &root_level,
        reload,
        "distributed",
        async { Ok(()) },
    )
    .await;
    drop(status_log);
    result
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
