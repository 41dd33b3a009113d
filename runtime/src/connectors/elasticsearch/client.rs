//! The HTTP side: one reqwest client over every `connection.url`, requests spread
//! round-robin and failing over to the next host when one cannot be reached.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde_json::Value as Json;
use tokio::sync::Notify;

use super::config::{self, EsConfig, TlsConfig};
use crate::errors::{ConnectError, Result};

/// A response: status, the URL that answered, and the body (JSON when it parses).
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub url: Url,
    pub body: Json,
}

/// A cheap-to-clone client for the configured hosts.
#[derive(Clone)]
pub struct EsClient {
    http: reqwest::Client,
    hosts: Arc<Vec<Url>>,
    next: Arc<AtomicUsize>,
    auth: Option<(String, String)>,
    /// Signalled whenever a host answers, to wake retries waiting out an outage.
    answered: Arc<Notify>,
}

impl EsClient {
    pub fn new(config: &EsConfig) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .pool_max_idle_per_host(config.max_in_flight.max(1) * 2)
            .tcp_nodelay(true);
        if !config.connection_timeout.is_zero() {
            builder = builder.connect_timeout(config.connection_timeout);
        }
        if !config.read_timeout.is_zero() {
            builder = builder.read_timeout(config.read_timeout);
        }
        if let Some(tls) = &config.tls {
            builder = with_tls(builder, tls)?;
        }
        if let Some(p) = &config.proxy {
            let mut proxy =
                reqwest::Proxy::all(format!("http://{}:{}", p.host, p.port)).map_err(|e| {
                    ConnectError::config(format!(
                        "Invalid proxy {}:{} (proxy.host, proxy.port): {e}",
                        p.host, p.port
                    ))
                })?;
            if let Some((user, password)) = &p.auth {
                proxy = proxy.basic_auth(user, password);
            }
            builder = builder.proxy(proxy);
        }
        let http = builder
            .build()
            .map_err(|e| ConnectError::internal(format!("could not build the HTTP client: {e}")))?;
        let auth = match (&config.username, &config.password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            _ => None,
        };
        Ok(EsClient {
            http,
            hosts: Arc::new(config.urls.clone()),
            next: Arc::new(AtomicUsize::new(0)),
            auth,
            answered: Arc::new(Notify::new()),
        })
    }

    /// Sleeps `wait`, or less if meanwhile some request of this client got an answer.
    pub async fn sleep_unless_reachable(&self, wait: Duration) {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = self.answered.notified() => {}
        }
    }

    /// Sends one request and parses the answer's body as JSON (see [`EsClient::send_raw`]).
    pub async fn send(&self, method: Method, path: &str, body: Option<Body>) -> Result<Response> {
        Ok(self.send_raw(method, path, body).await?.parsed())
    }

    /// Sends one request, trying each host once starting with the next in turn. A host
    /// that cannot be reached (connect error, timeout) passes the request to the next; any
    /// HTTP answer is returned as is, its body unparsed. Fails (retriable) when no host
    /// answered, and (not retriable) on 401/403.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Body>,
    ) -> Result<RawResponse> {
        let n = self.hosts.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut errors = Vec::new();
        for i in 0..n {
            let Some(host) = self.hosts.get((start + i) % n) else {
                continue;
            };
            let url = host
                .join(path.trim_start_matches('/'))
                .map_err(|e| ConnectError::internal(format!("bad request path {path}: {e}")))?;
            let mut req = self.http.request(method.clone(), url.clone());
            if let Some((u, p)) = &self.auth {
                req = req.basic_auth(u, Some(p));
            }
            // Plain application/json: OpenSearch refuses Elasticsearch 8's compatibility type.
            match &body {
                Some(Body::Json(j)) => req = req.json(j),
                Some(Body::NdJson(b)) => {
                    req = req
                        .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
                        .body(b.clone());
                }
                None => {}
            }
            match req.send().await {
                Ok(resp) => {
                    self.answered.notify_waiters();
                    let status = resp.status();
                    let bytes = match resp.bytes().await {
                        Ok(b) => b,
                        Err(e) => {
                            errors.push(format!("{url}: {e}"));
                            continue;
                        }
                    };
                    let raw = RawResponse { status, url, bytes };
                    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                        let r = raw.parsed();
                        return Err(ConnectError::external(
                            format!(
                                "{} answered {status}: check connection.username and \
                                 connection.password ({})",
                                r.url,
                                short(&r.body)
                            ),
                            false,
                        ));
                    }
                    return Ok(raw);
                }
                Err(e) => errors.push(format!("{url}: {}", error_chain(&e))),
            }
        }
        Err(ConnectError::external(
            format!("no Elasticsearch host answered: {}", errors.join("; ")),
            true,
        ))
    }
}

/// An answer whose body is not parsed yet.
#[derive(Debug)]
pub struct RawResponse {
    pub status: StatusCode,
    pub url: Url,
    pub bytes: bytes::Bytes,
}

impl RawResponse {
    /// The body as JSON, or as a JSON string when it is not JSON.
    pub fn parsed(self) -> Response {
        let body = serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(&self.bytes).into_owned()));
        Response {
            status: self.status,
            url: self.url,
            body,
        }
    }
}

/// Trust and client certificates from the PEM files of `elastic.https.ssl.*`.
fn with_tls(
    mut builder: reqwest::ClientBuilder,
    tls: &TlsConfig,
) -> Result<reqwest::ClientBuilder> {
    let read = |path: &std::path::Path, key: &str| {
        std::fs::read(path)
            .map_err(|e| ConnectError::config(format!("cannot read {key}={}: {e}", path.display())))
    };
    if let Some(path) = &tls.truststore {
        let key = config::SSL_TRUSTSTORE_LOCATION;
        let certs = reqwest::Certificate::from_pem_bundle(&read(path, key)?)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                ConnectError::config(format!(
                    "{key}={} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    path.display()
                ))
            })?;
        // As a Java truststore does: only these authorities, not the built-in ones.
        builder = builder.tls_built_in_root_certs(false);
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    if let Some(path) = &tls.keystore {
        let key = config::SSL_KEYSTORE_LOCATION;
        let identity = reqwest::Identity::from_pem(&read(path, key)?).map_err(|e| {
            ConnectError::config(format!(
                "{key}={} must hold the PEM certificate chain and an unencrypted private key: {e}",
                path.display()
            ))
        })?;
        builder = builder.identity(identity);
    }
    if !tls.verify_hostname {
        builder = builder.danger_accept_invalid_hostnames(true);
    }
    Ok(builder)
}

/// A request body.
#[derive(Clone)]
pub enum Body {
    Json(Json),
    /// A `_bulk` body, shared between retries.
    NdJson(bytes::Bytes),
}

fn error_chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A body trimmed for error messages.
pub fn short(body: &Json) -> String {
    let s = match body {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.len() > 500 {
        let mut end = 500;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s
    }
}
