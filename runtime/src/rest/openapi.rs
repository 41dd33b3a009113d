//! The OpenAPI 3.1 document of the REST API.
//!
//! Every route is registered through `utoipa_axum`'s `OpenApiRouter` together with the
//! `#[utoipa::path]` description on its handler, so the served document (`GET /openapi.json`)
//! cannot list a route the server lacks, nor miss one. `runtime/openapi.json` is a committed
//! copy; a test fails when it differs from what the server serves
//! (`FERRY_BLESS=1 cargo test -p ferry-runtime openapi` rewrites it).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use utoipa::OpenApi;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

use super::api::{ErrorMessage, Expand};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ferry REST API",
        description = "The Kafka Connect REST API as Ferry serves it. Every failing request is answered \
                       with an `ErrorMessage` body (`{\"error_code\": N, \"message\": \"..\"}`).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(ErrorMessage, Expand)),
    tags(
        (name = "server", description = "Worker information and health"),
        (name = "connectors", description = "Create, configure, inspect, pause, stop, restart and delete connectors"),
        (name = "offsets", description = "Read, alter and reset connector offsets"),
        (name = "plugins", description = "Installed plugins and config validation"),
        (name = "loggers", description = "Log levels at run time"),
    )
)]
struct ApiDoc;

/// The document's skeleton (info, tags, the error schema); the routes add the paths.
pub(super) fn base() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    // The API is Kafka Connect's: its version is the Connect version Ferry matches.
    doc.info.version = crate::VERSION_COMPAT.to_owned();
    doc
}

/// The whole document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| super::router().into_openapi())
}

/// The document as pretty JSON with a trailing newline: the form committed as `runtime/openapi.json`.
pub fn document_json() -> String {
    let mut s = serde_json::to_string_pretty(document()).unwrap_or_default();
    s.push('\n');
    s
}

/// Declares an error answer with the `ErrorMessage` body, for `responses(...)` lists.
macro_rules! error_response {
    ($name:ident, $code:literal, $description:literal) => {
        #[doc = concat!("A ", stringify!($code), " answer: ", $description)]
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::response::Response>> {
                error_responses($code, $description)
            }
        }
    };
}

fn error_responses(
    code: u16,
    description: &str,
) -> BTreeMap<String, RefOr<utoipa::openapi::response::Response>> {
    let response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorMessage")))
                .build(),
        )
        .build();
    BTreeMap::from([(code.to_string(), RefOr::T(response))])
}

error_response!(
    BadRequest,
    400,
    "The request is invalid (bad JSON, bad values, a bad config)."
);
error_response!(
    Forbidden,
    403,
    "An internal request whose signature does not match the cluster's session key."
);
error_response!(NotFound, 404, "No such connector, task, plugin or logger.");
error_response!(Conflict, 409, "The connector already exists.");
error_response!(
    UnsupportedMediaType,
    415,
    "The body is not `application/json`."
);
error_response!(
    ServerError,
    500,
    "The worker failed, or did not answer in time."
);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

    /// The served document equals the committed `runtime/openapi.json`.
    #[tokio::test]
    async fn openapi_document_matches_the_committed_file() {
        let (_dir, app) = super::super::tests::test_app();
        let (status, body) = super::super::tests::send(app, "GET", "/openapi.json", None).await;
        assert_eq!(status, 200);
        let served: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(served, serde_json::to_value(document()).unwrap());
        let text = document_json();
        if std::env::var_os("FERRY_BLESS").is_some() {
            std::fs::write(COMMITTED, &text).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        assert!(
            committed == text,
            "runtime/openapi.json differs from the API the server describes (GET /openapi.json).\n\
             If the change is intended, regenerate it with\n\n    FERRY_BLESS=1 cargo test -p ferry-runtime openapi\n\n\
             and commit the result."
        );
    }

    /// Operation ids are unique and every `$ref` names a schema of the document.
    #[test]
    fn operation_ids_are_unique_and_references_resolve() {
        let doc = serde_json::to_value(document()).unwrap();
        let mut ids = std::collections::BTreeSet::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let id = op["operationId"].as_str().unwrap().to_owned();
                assert!(ids.insert(id.clone()), "operationId {id} is used twice");
            }
        }
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for (i, _) in text.match_indices("\"$ref\":\"#/components/schemas/") {
            let rest = &text[i + "\"$ref\":\"#/components/schemas/".len()..];
            let name = &rest[..rest.find('"').unwrap()];
            assert!(
                schemas.contains_key(name),
                "$ref to a missing schema {name}"
            );
        }
    }

    /// Every documented operation reaches a handler (not the 404/405 fallbacks), and every
    /// documented answer of an operation uses the shared error schema for 4xx/5xx.
    #[tokio::test]
    async fn every_documented_operation_is_routed() {
        let doc = serde_json::to_value(document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() >= 20, "{} paths", paths.len());
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let concrete = path
                    .replace("{name}", "no-such-connector")
                    .replace("{task}", "0")
                    .replace("{plugin}", "NoSuchPlugin")
                    .replace("{logger}", "no.such.logger");
                let (_dir, app) = super::super::tests::test_app();
                let body = matches!(method.as_str(), "post" | "put" | "patch").then_some("{}");
                let (status, text) =
                    super::super::tests::send(app, &method.to_uppercase(), &concrete, body).await;
                assert_ne!(status, 405, "{method} {path}: {text}");
                assert!(
                    !(status == 404 && text.contains("\"HTTP 404 Not Found\"")),
                    "{method} {path} is documented but not routed: {text}"
                );
                for (code, response) in op["responses"].as_object().unwrap() {
                    // GET /health answers 503 and 500 with its own body (KIP-1017).
                    if (code.starts_with('4') || code.starts_with('5')) && path != "/health" {
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/ErrorMessage",
                            "{method} {path} {code}"
                        );
                    }
                }
            }
        }
    }
}
