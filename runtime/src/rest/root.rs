//! `GET /`, `GET /health` and `GET /openapi.json`.

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{Health, ServerInfo};
use super::{AppState, Json};
use crate::herder::WorkerHealth;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(server_info))
        .routes(routes!(health))
        .routes(routes!(openapi_json))
        .routes(routes!(metrics))
}

/// The worker's metrics in Prometheus (OpenMetrics) text format: per connector and task on
/// this worker, and per worker. See README, "Metrics and health".
#[utoipa::path(
    get,
    operation_id = "getMetrics",
    path = "/metrics",
    tag = "server",
    responses(
        (status = 200, description = "The metrics", body = String,
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")
    )
)]
async fn metrics(State(state): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let ctx = state.herder.context();
    match ctx.metrics.render(&ctx.status, &ctx.worker_id) {
        Ok(body) => (
            [(
                axum::http::header::CONTENT_TYPE,
                crate::metrics::CONTENT_TYPE,
            )],
            body,
        )
            .into_response(),
        Err(e) => super::ApiError::from(crate::herder::HerderError::Internal(format!(
            "could not encode the metrics: {e}"
        )))
        .into_response(),
    }
}

/// The worker's version and the Kafka cluster it belongs to.
#[utoipa::path(
    get,
    operation_id = "getServerInfo",
    path = "/",
    tag = "server",
    responses((status = 200, description = "Worker information", body = ServerInfo))
)]
async fn server_info(State(state): State<AppState>) -> (axum::http::HeaderMap, Json<ServerInfo>) {
    // Ferry workers of one group compare these with their leader's (a Kafka Connect leader
    // has no such header, and is not checked).
    let mut headers = axum::http::HeaderMap::new();
    let settings = crate::config::worker::group_settings(&state.herder.context().config);
    if let Some(v) = serde_json::to_string(&settings)
        .ok()
        .and_then(|s| axum::http::HeaderValue::from_str(&s).ok())
    {
        headers.insert(GROUP_SETTINGS_HEADER, v);
    }
    (
        headers,
        Json(ServerInfo {
            version: crate::VERSION_COMPAT.to_owned(),
            commit: format!("ferry-{}", crate::VERSION),
            kafka_cluster_id: state.kafka_cluster_id.get().cloned(),
        }),
    )
}

/// The response header of `GET /` carrying [`crate::config::worker::group_settings`] as JSON.
pub const GROUP_SETTINGS_HEADER: &str = "x-ferry-group-settings";

/// Whether the worker has started and can serve requests.
///
/// As KIP-1017 defines: 200 healthy, 503 still starting, 500 unhealthy.
#[utoipa::path(
    get,
    operation_id = "getHealth",
    path = "/health",
    tag = "server",
    responses(
        (status = 200, description = "The worker is healthy", body = Health),
        (status = 503, description = "The worker is still starting", body = Health),
        (status = 500, description = "The worker cannot handle requests", body = Health)
    )
)]
async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let (status, body) = health_response(state.herder.health().await);
    (status, Json(body))
}

/// The status code and body of `GET /health`, with Kafka's statuses and messages.
fn health_response(health: WorkerHealth) -> (StatusCode, Health) {
    let (code, status, message) = match health {
        WorkerHealth::Healthy => (
            StatusCode::OK,
            "healthy",
            "Worker has completed startup and is ready to handle requests.".to_owned(),
        ),
        WorkerHealth::Starting => (
            StatusCode::SERVICE_UNAVAILABLE,
            "starting",
            "Worker is still starting up.".to_owned(),
        ),
        WorkerHealth::Unhealthy(why) => (StatusCode::INTERNAL_SERVER_ERROR, "unhealthy", why),
    };
    (
        code,
        Health {
            status: status.into(),
            message,
        },
    )
}

/// This document: the OpenAPI 3.1 description of the REST API.
#[utoipa::path(
    get,
    operation_id = "getOpenApi",
    path = "/openapi.json",
    tag = "server",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
async fn openapi_json() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(super::openapi::document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_codes_follow_kip_1017() {
        let (code, body) = health_response(WorkerHealth::Healthy);
        assert_eq!((code.as_u16(), body.status.as_str()), (200, "healthy"));
        let (code, body) = health_response(WorkerHealth::Starting);
        assert_eq!(
            (code.as_u16(), body.status.as_str(), body.message.as_str()),
            (503, "starting", "Worker is still starting up.")
        );
        let (code, body) = health_response(WorkerHealth::Unhealthy("stuck".into()));
        assert_eq!(
            (code.as_u16(), body.status.as_str(), body.message.as_str()),
            (500, "unhealthy", "stuck")
        );
    }
}
