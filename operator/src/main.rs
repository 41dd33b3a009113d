//! `ferry-operator`: reconciles ConnectCluster and Connector resources.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ferry_operator::Settings;
use ferry_operator::auto_restart::Timing;
use ferry_operator::leader::LeaderElection;
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
        /// Seconds before the first automatic restart of a failed connector or task; doubled
        /// for every further restart, up to --auto-restart-max-seconds.
        #[arg(long, default_value_t = 10)]
        auto_restart_base_seconds: u64,
        /// Longest delay in seconds between two automatic restarts.
        #[arg(long, default_value_t = 600)]
        auto_restart_max_seconds: u64,
        /// Seconds a connector must stay Ready before its restart count goes back to 0.
        #[arg(long, default_value_t = 600)]
        auto_restart_healthy_seconds: u64,
        /// Emit logs as JSON.
        #[arg(long)]
        log_json: bool,
        /// Run the controllers only while holding the leader Lease (`--leader-election=false`
        /// for a single replica that should not wait for one).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        leader_election: bool,
        /// Namespace of the leader Lease (default: the pod's, from POD_NAMESPACE or the service
        /// account, else `default`).
        #[arg(long, env = "FERRY_OPERATOR_LEASE_NAMESPACE")]
        lease_namespace: Option<String>,
        /// Name of the leader Lease.
        #[arg(long, default_value = "ferry-operator")]
        lease_name: String,
        /// Seconds the Lease stays valid after its last renewal (how long a crashed leader's
        /// standby waits).
        #[arg(long, default_value_t = 15)]
        lease_duration_seconds: u64,
        /// Seconds before expiry the leader renews (at least 1, less than the duration).
        #[arg(long, default_value_t = 5)]
        lease_renew_grace_seconds: u64,
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
        auto_restart_base_seconds,
        auto_restart_max_seconds,
        auto_restart_healthy_seconds,
        log_json,
        leader_election,
        lease_namespace,
        lease_name,
        lease_duration_seconds,
        lease_renew_grace_seconds,
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
        auto_restart: Timing {
            base: Duration::from_secs(auto_restart_base_seconds.max(1)),
            max: Duration::from_secs(
                auto_restart_max_seconds
                    .max(auto_restart_base_seconds)
                    .max(1),
            ),
            healthy_period: Duration::from_secs(auto_restart_healthy_seconds),
        },
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
    let election = leader_election.then(|| LeaderElection {
        namespace: lease_namespace.unwrap_or_else(own_namespace),
        lease_name,
        identity: identity(),
        lease_duration: Duration::from_secs(lease_duration_seconds),
        renew_grace: Duration::from_secs(lease_renew_grace_seconds),
    });
    if let Err(e) = ferry_operator::run(client, settings, addr, election).await {
        eprintln!("ferry-operator: {e}");
        std::process::exit(1);
    }
}

/// The operator pod's namespace: `POD_NAMESPACE`, else the service account's, else `default`.
fn own_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace").ok()
        })
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".to_owned())
}

/// This replica's identity in the election: `POD_NAME`, else the host name and process id.
fn identity() -> String {
    if let Ok(name) = std::env::var("POD_NAME") {
        if !name.is_empty() {
            return name;
        }
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "ferry-operator".to_owned());
    format!("{host}-{}", std::process::id())
}
