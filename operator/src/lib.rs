//! Ferry's Kubernetes operator: deploys `ConnectCluster`s as StatefulSets of `ferry distributed`
//! workers ([`cluster`]) and reconciles `Connector` resources against Connect-compatible clusters
//! over their public REST API ([`controller`]).
//!
//! [`run`] is what the `ferry-operator run` binary does: both controllers plus a small HTTP server
//! with `/metrics` and `/health`. Tests call [`controller::run`] or [`cluster::run`] with a
//! [`Context`] directly.

pub mod auto_restart;
pub mod cluster;
pub mod controller;
pub mod leader;
pub mod metrics;
pub mod offsets;
pub mod rest;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use prometheus_client::registry::Registry;

pub use controller::Settings;
use metrics::Metrics;

/// What every reconcile shares.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Publishes Kubernetes Events about Connectors.
    pub recorder: Recorder,
    /// Reconcile metrics of the Connector controller.
    pub metrics: Metrics,
    /// Reconcile metrics of the ConnectCluster controller.
    pub cluster_metrics: Metrics,
    /// REST client for Connect clusters, with connect and request timeouts.
    pub http: reqwest::Client,
    /// Behaviour knobs.
    pub settings: Settings,
    backoff: controller::Backoff,
    /// Automatic restarts this process did, by `namespace/name` (see `restarts_done`).
    restarts: std::sync::Mutex<std::collections::HashMap<String, ferry_crds::AutoRestartStatus>>,
    /// The resourceVersion whose restart annotations this process acted on, by
    /// `namespace/name` (see `restart_annotations_handled`).
    handled: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl Context {
    /// A context whose metrics are registered in `registry`.
    pub fn new(
        client: Client,
        settings: Settings,
        registry: &mut Registry,
    ) -> Result<Arc<Self>, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.rest_timeout.min(std::time::Duration::from_secs(5)))
            .timeout(settings.rest_timeout)
            .user_agent(concat!("ferry-operator/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let reporter = Reporter {
            controller: "ferry-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Ok(Arc::new(Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics: Metrics::default().register(registry),
            cluster_metrics: Metrics::default().register_as(
                registry,
                "connect_cluster",
                "ConnectCluster",
            ),
            http,
            settings,
            backoff: controller::Backoff::default(),
            restarts: std::sync::Mutex::default(),
            handled: std::sync::Mutex::default(),
        }))
    }
}

/// Runs the ConnectCluster and Connector controllers and the `/metrics` + `/health` server on
/// `addr` until shutdown. With `election`, the controllers run only while this replica holds the
/// Lease; losing it ends `run` with an error (the process should exit and be restarted as a
/// standby), while `/health` and `/metrics` answer all along.
pub async fn run(
    client: Client,
    settings: Settings,
    addr: SocketAddr,
    election: Option<leader::LeaderElection>,
) -> std::io::Result<()> {
    let mut registry = Registry::default();
    let ctx =
        Context::new(client.clone(), settings, &mut registry).map_err(std::io::Error::other)?;
    let registry = Arc::new(registry);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("serving /metrics and /health on {}", listener.local_addr()?);
    let server = axum::serve(listener, router(registry));
    let controllers = async move {
        tokio::select! {
            () = controller::run(ctx.clone()) => {}
            () = cluster::run(ctx) => {}
        }
    };
    let work = async move {
        match election {
            None => {
                controllers.await;
                Ok(())
            }
            Some(e) => leader::while_leading(client, &e, controllers)
                .await
                .map_err(std::io::Error::other),
        }
    };
    tokio::select! {
        res = work => res,
        res = server => res,
    }
}

/// The HTTP routes: `/metrics` (Prometheus text format) and `/health`.
pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/health", get(|| async { "ok" }))
        .with_state(registry)
}

async fn metrics_handler(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn health_and_metrics_are_served() {
        let mut registry = Registry::default();
        let metrics = Metrics::default().register(&mut registry);
        drop(metrics.count_and_measure());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server =
            tokio::spawn(async move { axum::serve(listener, router(Arc::new(registry))).await });
        let http = reqwest::Client::new();
        let health = http
            .get(format!("http://{addr}/health"))
            .send()
            .await
            .expect("GET /health");
        assert_eq!(health.status(), 200);
        let body = http
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("body");
        assert!(
            body.contains("ferry_operator_connector_reconciliations_total 1"),
            "{body}"
        );
        server.abort();
    }
}
