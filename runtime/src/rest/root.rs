//! `GET /`, `GET /health` and `GET /openapi.json`.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{Health, ServerInfo};
use super::{AppState, Json};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(server_info))
        .routes(routes!(health))
        .routes(routes!(openapi_json))
}

/// The worker's version and the Kafka cluster it belongs to.
#[utoipa::path(
    get,
    operation_id = "getServerInfo",
    path = "/",
    tag = "server",
    responses((status = 200, description = "Worker information", body = ServerInfo))
)]
async fn server_info(State(state): State<AppState>) -> Json<ServerInfo> {
    Json(ServerInfo {
        version: crate::VERSION_COMPAT.to_owned(),
        commit: format!("ferry-{}", crate::VERSION),
        kafka_cluster_id: state.kafka_cluster_id.get().cloned(),
    })
}

/// Whether the worker has started and can serve requests.
#[utoipa::path(
    get,
    operation_id = "getHealth",
    path = "/health",
    tag = "server",
    responses((status = 200, description = "The worker is healthy", body = Health))
)]
async fn health() -> Json<Health> {
    Json(Health {
        status: "healthy".into(),
        message: "Worker has completed startup and is ready to handle requests.".into(),
    })
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
