//! `ferry-operator`: reconciles Connector resources (the ConnectCluster controller comes next).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ferry_operator::Settings;
use tracing_subscriber::EnvFilter;

/// Kubernetes operator for Ferry: reconciles `ConnectCluster` and `Connector` resources.
#[derive(Parser, Debug)]
#[command(name = "ferry-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the controllers.
    Run {
        /// Watch only this namespace (default: all namespaces).
        #[arg(long, env = "FERRY_OPERATOR_NAMESPACE")]
        namespace: Option<String>,
        /// Port of the /metrics and /health server.
        #[arg(long, default_value_t = 8080, env = "FERRY_OPERATOR_PORT")]
        port: u16,
        /// Seconds between status refreshes of a healthy Connector.
        #[arg(long, default_value_t = 10)]
        requeue_seconds: u64,
        /// Timeout in seconds of every REST call to a Connect cluster.
        #[arg(long, default_value_t = 10)]
        rest_timeout_seconds: u64,
        /// Emit logs as JSON.
        #[arg(long)]
        log_json: bool,
    },
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let Command::Run {
        namespace,
        port,
        requeue_seconds,
        rest_timeout_seconds,
        log_json,
    } = cli.command;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if log_json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let settings = Settings {
        namespace,
        requeue_after: Duration::from_secs(requeue_seconds.max(1)),
        rest_timeout: Duration::from_secs(rest_timeout_seconds.max(1)),
        ..Settings::default()
    };
    let client = match kube::Client::try_default().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ferry-operator: cannot build a Kubernetes client: {e}");
            std::process::exit(1);
        }
    };
    let addr = SocketAddr::from(([0, 0, 0, 0], port));
    if let Err(e) = ferry_operator::run(client, settings, addr).await {
        eprintln!("ferry-operator: {e}");
        std::process::exit(1);
    }
}
