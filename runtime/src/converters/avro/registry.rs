//! A client for the Confluent Schema Registry REST API (and compatible servers): register,
//! look up and fetch schemas, trying each configured URL in turn.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value as J, json};

use super::config::{AvroConfig, CredentialsSource};
use crate::errors::{ConnectError, Result};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
const ACCEPT: &str =
    "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json";

/// One registry base URL, with credentials taken out so they never reach a message.
#[derive(Debug, Clone)]
struct Endpoint {
    /// The URL as shown in messages (no user info, no trailing slash).
    shown: String,
    auth: Option<(String, String)>,
}

/// What went wrong talking to the registry.
#[derive(Debug)]
pub enum RegistryError {
    /// No URL answered; one line per URL tried.
    Unreachable(String),
    /// The registry answered with an error: HTTP status, its `error_code` and `message`.
    Rest {
        status: u16,
        code: i64,
        message: String,
    },
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::Unreachable(m) => f.write_str(m),
            // Confluent's RestClientException prints `<message>; error code: <code>`.
            RegistryError::Rest { message, code, .. } => {
                write!(f, "{message}; error code: {code}")
            }
        }
    }
}

impl RegistryError {
    /// As the crate's error, `context` first. An unreachable registry and a 5xx are
    /// retriable (as Confluent's serializers turn them into Kafka's retriable exceptions), so
    /// `errors.retry.timeout` rides out a registry restart.
    pub fn into_connect(self, context: &str) -> ConnectError {
        match &self {
            RegistryError::Unreachable(_) => {
                ConnectError::external(format!("{context}: {self}"), true)
            }
            RegistryError::Rest { status, .. } if *status >= 500 => {
                ConnectError::external(format!("{context}: {self}"), true)
            }
            RegistryError::Rest { .. } => ConnectError::data(format!("{context}: {self}")),
        }
    }
}

/// A registry schema: its id and text.
#[derive(Debug, Clone)]
pub struct RegisteredSchema {
    pub id: i32,
    pub schema: String,
}

/// The registry client of one converter.
#[derive(Debug)]
pub struct RegistryClient {
    endpoints: Vec<Endpoint>,
    http: reqwest::Client,
    /// The endpoint that answered last: tried first next time.
    current: AtomicUsize,
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Path segment encoding for subjects (which may hold `/`, spaces...).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl RegistryClient {
    pub fn new(cfg: &AvroConfig) -> Result<Self> {
        let mut endpoints = Vec::with_capacity(cfg.urls.len());
        for raw in &cfg.urls {
            let mut url = reqwest::Url::parse(raw).map_err(|e| {
                ConnectError::config(format!("Invalid schema.registry.url {raw}: {e}"))
            })?;
            let from_url = (!url.username().is_empty()).then(|| {
                (
                    percent_decode(url.username()),
                    percent_decode(url.password().unwrap_or("")),
                )
            });
            let _ = url.set_username("");
            let _ = url.set_password(None);
            let auth = match cfg.credentials_source {
                CredentialsSource::Url => from_url,
                CredentialsSource::UserInfo => {
                    cfg.user_info.as_ref().map(|ui| match ui.split_once(':') {
                        Some((u, p)) => (u.to_owned(), p.to_owned()),
                        None => (ui.clone(), String::new()),
                    })
                }
            };
            endpoints.push(Endpoint {
                shown: url.as_str().trim_end_matches('/').to_owned(),
                auth,
            });
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ConnectError::internal(format!("could not build an HTTP client: {e}")))?;
        Ok(RegistryClient {
            endpoints,
            http,
            current: AtomicUsize::new(0),
        })
    }

    /// The base URLs, as messages show them.
    pub fn urls(&self) -> String {
        self.endpoints
            .iter()
            .map(|e| e.shown.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One request, failing over to the next URL when one cannot be reached.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<J>,
    ) -> Result<J, RegistryError> {
        let n = self.endpoints.len();
        let start = self.current.load(Ordering::Relaxed);
        let mut failures = Vec::new();
        for k in 0..n {
            let i = (start + k) % n;
            let ep = &self.endpoints[i];
            let url = format!("{}{path}", ep.shown);
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header(reqwest::header::ACCEPT, ACCEPT);
            if let Some((u, p)) = &ep.auth {
                req = req.basic_auth(u, Some(p));
            }
            if let Some(b) = &body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                    .body(b.to_string());
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{url}: {}", error_chain(&e)));
                    continue;
                }
            };
            self.current.store(i, Ordering::Relaxed);
            let status = resp.status();
            let text = match resp.text().await {
                Ok(t) => t,
                Err(e) => {
                    failures.push(format!("{url}: reading the answer: {}", error_chain(&e)));
                    continue;
                }
            };
            let parsed: Option<J> = serde_json::from_str(&text).ok();
            if status.is_success() {
                return parsed.ok_or_else(|| RegistryError::Rest {
                    status: status.as_u16(),
                    code: 50005,
                    message: format!(
                        "the schema registry at {url} answered with something other than JSON: {}",
                        truncate(&text)
                    ),
                });
            }
            let (code, message) = match &parsed {
                Some(J::Object(o)) => (
                    o.get("error_code")
                        .and_then(J::as_i64)
                        .unwrap_or(i64::from(status.as_u16())),
                    o.get("message")
                        .and_then(J::as_str)
                        .map(str::to_owned)
                        .unwrap_or_else(|| truncate(&text)),
                ),
                _ if status == reqwest::StatusCode::UNAUTHORIZED => (
                    401,
                    format!("Unauthorized: the schema registry at {url} refused the credentials"),
                ),
                _ => (
                    i64::from(status.as_u16()),
                    format!("HTTP {status} from {url}: {}", truncate(&text)),
                ),
            };
            return Err(RegistryError::Rest {
                status: status.as_u16(),
                code,
                message,
            });
        }
        Err(RegistryError::Unreachable(format!(
            "could not reach the schema registry ({})",
            failures.join("; ")
        )))
    }

    /// `POST /subjects/{subject}/versions`: registers a schema (or finds it), answers its id.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<i32, RegistryError> {
        let path = format!("/subjects/{}/versions", encode_segment(subject));
        let body = json!({ "schema": schema });
        let answer = self.call(reqwest::Method::POST, &path, Some(body)).await?;
        self.id_of(&answer, &path)
    }

    /// `POST /subjects/{subject}`: the id of a schema already registered under the subject.
    pub async fn lookup(&self, subject: &str, schema: &str) -> Result<i32, RegistryError> {
        let path = format!("/subjects/{}", encode_segment(subject));
        let body = json!({ "schema": schema });
        let answer = self.call(reqwest::Method::POST, &path, Some(body)).await?;
        self.id_of(&answer, &path)
    }

    /// `GET /subjects/{subject}/versions/latest`.
    pub async fn latest(&self, subject: &str) -> Result<RegisteredSchema, RegistryError> {
        let path = format!("/subjects/{}/versions/latest", encode_segment(subject));
        let answer = self.call(reqwest::Method::GET, &path, None).await?;
        let id = self.id_of(&answer, &path)?;
        let schema = self.schema_of(&answer, &path)?;
        Ok(RegisteredSchema { id, schema })
    }

    /// `GET /schemas/ids/{id}`.
    pub async fn by_id(&self, id: i32) -> Result<String, RegistryError> {
        let path = format!("/schemas/ids/{id}");
        let answer = self.call(reqwest::Method::GET, &path, None).await?;
        self.schema_of(&answer, &path)
    }

    fn malformed(&self, path: &str, what: &str, answer: &J) -> RegistryError {
        RegistryError::Rest {
            status: 200,
            code: 50005,
            message: format!(
                "the schema registry's answer to {path} has no {what}: {}",
                truncate(&answer.to_string())
            ),
        }
    }

    fn id_of(&self, answer: &J, path: &str) -> Result<i32, RegistryError> {
        answer
            .get("id")
            .and_then(J::as_i64)
            .and_then(|i| i32::try_from(i).ok())
            .ok_or_else(|| self.malformed(path, "schema id", answer))
    }

    fn schema_of(&self, answer: &J, path: &str) -> Result<String, RegistryError> {
        answer
            .get("schema")
            .and_then(J::as_str)
            .map(str::to_owned)
            .ok_or_else(|| self.malformed(path, "schema", answer))
    }
}

fn truncate(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn encodes_subjects_and_decodes_user_info() {
        assert_eq!(encode_segment("a b/c-value"), "a%20b%2Fc-value");
        assert_eq!(percent_decode("us%40er"), "us@er");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[tokio::test]
    async fn unreachable_registry_names_every_url() {
        let cfg = AvroConfig::parse(
            &[(
                "schema.registry.url".to_owned(),
                "http://127.0.0.1:1,http://user:secret@127.0.0.1:2/".to_owned(),
            )]
            .into_iter()
            .collect(),
            false,
        )
        .unwrap();
        let c = RegistryClient::new(&cfg).unwrap();
        let e = c.by_id(1).await.unwrap_err().to_string();
        assert!(e.contains("http://127.0.0.1:1/schemas/ids/1"), "{e}");
        assert!(e.contains("http://127.0.0.1:2/schemas/ids/1"), "{e}");
        assert!(!e.contains("secret"), "{e}");
    }
}
