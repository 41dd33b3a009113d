//! Talking to the server: `_bulk` requests with retries (exponential backoff with
//! jitter) and per-item outcomes, and index / data stream creation.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value as Json, json};

use super::client::{Body, EsClient, RawResponse, short};
use super::config::{EsConfig, MalformedDocs};
use super::request_builder::Action;
use crate::connectors::RetryReporter;
use crate::errors::{ConnectError, Result};

/// Error types that mean the document itself is wrong: retrying cannot help, and
/// `behavior.on.malformed.documents` decides. (Confluent's list, plus OpenSearch's names.)
const MALFORMED: &[&str] = &[
    "mapper_parsing_exception",
    "document_parsing_exception",
    "strict_dynamic_mapping_exception",
    "illegal_argument_exception",
    "action_request_validation_exception",
    "not_x_content_exception",
    "parse_exception",
];

/// The retry policy: `max.retries` and `retry.backoff.ms`.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub max_retries: u32,
    pub backoff: Duration,
}

impl Retry {
    pub fn from(config: &EsConfig) -> Self {
        Retry {
            max_retries: config.max_retries,
            backoff: config.retry_backoff,
        }
    }

    /// Wait before retry `attempt` (1-based): random in [0, backoff·2^attempt), at most
    /// 24 h — Confluent's `RetryUtil.computeRandomRetryWaitTimeInMillis`, so a given
    /// `max.retries`/`retry.backoff.ms` rides out the same outage as with Confluent's
    /// connector (defaults 5 × 100 ms: about 3 s on average, at most 6.2 s).
    pub fn wait(&self, attempt: u32) -> Duration {
        const MAX_MS: u64 = 24 * 3600 * 1000;
        let base = self.backoff.as_millis().min(u128::from(MAX_MS)) as u64;
        let ceiling = if attempt > 32 {
            MAX_MS
        } else {
            base.saturating_mul(1u64 << attempt).min(MAX_MS)
        };
        Duration::from_millis(if ceiling == 0 {
            0
        } else {
            fastrand::u64(0..ceiling)
        })
    }
}

/// The part of a `_bulk` answer that says whether any item failed; serde skips the rest
/// without allocating.
#[derive(serde::Deserialize)]
struct BulkSummary {
    errors: bool,
}

/// What happened to a bulk request's items.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub written: usize,
    /// Rejected as malformed and dropped per `behavior.on.malformed.documents`.
    pub dropped: usize,
    pub retries: u32,
}

/// Sends `actions` as one `_bulk` request, retrying the whole request on transport errors,
/// 429 and 5xx, and only the failed items on item-level 429/5xx. Fails when retries run
/// out, on a malformed document under `fail`, or on any other item error.
pub async fn send_bulk(
    client: &EsClient,
    retry: Retry,
    malformed: MalformedDocs,
    actions: Vec<Action>,
    reporter: Option<&RetryReporter>,
) -> Result<Outcome> {
    let mut pending = actions;
    let mut outcome = Outcome::default();
    let mut attempt = 0u32;
    loop {
        let mut body = Vec::with_capacity(pending.iter().map(|a| a.lines.len()).sum());
        for a in &pending {
            body.extend_from_slice(&a.lines);
        }
        let mut unreachable = false;
        let sent = client
            .send_raw(Method::POST, "_bulk", Some(Body::NdJson(body.into())))
            .await;
        // The common case, every item accepted, needs only the top-level `errors` flag:
        // skip building a JSON tree of thousands of items.
        if let Ok(r) = &sent
            && r.status.is_success()
            && serde_json::from_slice::<BulkSummary>(&r.bytes).is_ok_and(|b| !b.errors)
        {
            outcome.written += pending.len();
            outcome.retries = attempt;
            if attempt > 0
                && let Some(report) = reporter
            {
                report(None);
            }
            return Ok(outcome);
        }
        let failure = match sent.map(RawResponse::parsed) {
            Err(e) if !e.retriable() => return Err(e),
            Err(e) => {
                unreachable = true;
                e.to_string()
            }
            Ok(r) if r.status == StatusCode::TOO_MANY_REQUESTS || r.status.is_server_error() => {
                format!("{} answered {}: {}", r.url, r.status, short(&r.body))
            }
            Ok(r) if !r.status.is_success() => {
                return Err(ConnectError::external(
                    format!(
                        "{} refused a bulk request: {} {}",
                        r.url,
                        r.status,
                        short(&r.body)
                    ),
                    false,
                ));
            }
            Ok(r) => {
                let retry_items = items(&r.body, &pending, malformed, &mut outcome)?;
                if retry_items.is_empty() {
                    outcome.retries = attempt;
                    if attempt > 0
                        && let Some(report) = reporter
                    {
                        report(None);
                    }
                    return Ok(outcome);
                }
                let why = retry_items
                    .first()
                    .map(|(_, why)| why.clone())
                    .unwrap_or_default();
                let keep: std::collections::HashSet<usize> =
                    retry_items.into_iter().map(|(i, _)| i).collect();
                pending = pending
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| keep.contains(i))
                    .map(|(_, a)| a)
                    .collect();
                format!("{} items not accepted yet: {why}", keep.len())
            }
        };
        attempt += 1;
        if attempt > retry.max_retries {
            return Err(ConnectError::external(
                format!(
                    "bulk request failed after {} retries (max.retries): {failure}",
                    retry.max_retries
                ),
                true,
            ));
        }
        let wait = retry.wait(attempt);
        tracing::warn!(attempt, ?wait, error = %failure, "bulk request failed; retrying");
        if let Some(report) = reporter {
            report(Some(format!(
                "org.apache.kafka.connect.errors.RetriableException: retrying a bulk request \
                 (attempt {attempt} of max.retries={}, next in {} ms): {failure}",
                retry.max_retries,
                wait.as_millis()
            )));
        }
        if unreachable {
            // Another request getting through means the server is back: retry at once
            // rather than sleep out a backoff grown long during the outage. Overload
            // (429/5xx) keeps its full backoff.
            client.sleep_unless_reachable(wait).await;
        } else {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Reads the per-item results: counts what was written or dropped, fails on what must
/// fail, and returns the positions (with the reason) of the items to retry.
fn items(
    body: &Json,
    sent: &[Action],
    malformed: MalformedDocs,
    outcome: &mut Outcome,
) -> Result<Vec<(usize, String)>> {
    let results = body["items"].as_array().ok_or_else(|| {
        ConnectError::external(format!("unexpected bulk response: {}", short(body)), true)
    })?;
    if results.len() != sent.len() {
        return Err(ConnectError::external(
            format!(
                "bulk response has {} items for {} actions",
                results.len(),
                sent.len()
            ),
            true,
        ));
    }
    let mut retry = Vec::new();
    for (i, (item, action)) in results.iter().zip(sent).enumerate() {
        let Some(result) = item.as_object().and_then(|o| o.values().next()) else {
            return Err(ConnectError::external(
                format!("unexpected bulk item: {item}"),
                true,
            ));
        };
        let status = result["status"].as_u64().unwrap_or(0);
        let error = &result["error"];
        if error.is_null() {
            // Includes a delete of a missing document (404, result "not_found").
            outcome.written += 1;
            continue;
        }
        let kind = error["type"].as_str().unwrap_or("");
        let reason = format!(
            "{kind}: {} (record {}, index {})",
            error["reason"].as_str().unwrap_or(""),
            action.origin,
            action.index
        );
        if kind == "version_conflict_engine_exception" {
            // A redelivered record whose `create` already happened: it is there.
            outcome.written += 1;
        } else if status == 429 || status >= 500 {
            retry.push((i, reason));
        } else if MALFORMED.contains(&kind) {
            match malformed {
                MalformedDocs::Fail => {
                    return Err(ConnectError::data(format!(
                        "Elasticsearch rejected a malformed document: {reason} (to ignore \
                         documents like this set behavior.on.malformed.documents to warn or \
                         ignore)"
                    )));
                }
                MalformedDocs::Warn => {
                    tracing::warn!(error = %reason, "dropping a document Elasticsearch rejected");
                    outcome.dropped += 1;
                }
                MalformedDocs::Ignore => {
                    tracing::debug!(error = %reason, "dropping a document Elasticsearch rejected");
                    outcome.dropped += 1;
                }
            }
        } else {
            return Err(ConnectError::external(
                format!("Elasticsearch refused a document: {reason}"),
                false,
            ));
        }
    }
    Ok(retry)
}

/// Sends a request with the retry policy applied to unreachable hosts, 429 and 5xx.
pub async fn send_retrying(
    client: &EsClient,
    retry: Retry,
    method: Method,
    path: &str,
    body: Option<Json>,
) -> Result<super::client::Response> {
    let mut attempt = 0;
    loop {
        let failure = match client
            .send(method.clone(), path, body.clone().map(Body::Json))
            .await
        {
            Err(e) if !e.retriable() => return Err(e),
            Err(e) => e.to_string(),
            Ok(r) if r.status == StatusCode::TOO_MANY_REQUESTS || r.status.is_server_error() => {
                format!("{} answered {}: {}", r.url, r.status, short(&r.body))
            }
            Ok(r) => return Ok(r),
        };
        attempt += 1;
        if attempt > retry.max_retries {
            return Err(ConnectError::external(
                format!(
                    "{method} /{path} failed after {} retries (max.retries): {failure}",
                    retry.max_retries
                ),
                true,
            ));
        }
        tokio::time::sleep(retry.wait(attempt)).await;
    }
}

/// Creates the index (with `mapping` when given) or the data stream unless it exists.
pub async fn ensure_index(
    client: &EsClient,
    retry: Retry,
    index: &str,
    data_stream: bool,
    mapping: Option<Json>,
) -> Result<()> {
    let exists = send_retrying(client, retry, Method::HEAD, index, None).await?;
    if exists.status.is_success() {
        return Ok(());
    }
    let (path, body) = if data_stream {
        (format!("_data_stream/{index}"), None)
    } else {
        let body = match mapping {
            Some(m) => json!({ "mappings": m }),
            None => json!({}),
        };
        (index.to_owned(), Some(body))
    };
    let r = send_retrying(client, retry, Method::PUT, &path, body).await?;
    let kind = r.body["error"]["type"].as_str().unwrap_or("");
    if r.status.is_success()
        || kind == "resource_already_exists_exception"
        || kind == "index_already_exists_exception"
    {
        tracing::info!(index, data_stream, "created");
        return Ok(());
    }
    let what = if data_stream { "data stream" } else { "index" };
    let hint = if data_stream {
        " (the server needs an index template with data_stream enabled matching it)"
    } else {
        ""
    };
    Err(ConnectError::external(
        format!(
            "could not create the {what} {index} at {}: {} {}{hint}",
            r.url,
            r.status,
            short(&r.body)
        ),
        false,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_full_jitter_like_confluent() {
        let r = Retry {
            max_retries: 5,
            backoff: Duration::from_millis(100),
        };
        for (attempt, ceiling) in [(1, 200), (2, 400), (4, 1600)] {
            let waits: Vec<u128> = (0..2000).map(|_| r.wait(attempt).as_millis()).collect();
            assert!(waits.iter().all(|w| *w < ceiling), "attempt {attempt}");
            // Spread over the whole range, not pinned to either end.
            assert!(waits.iter().any(|w| *w < ceiling / 4), "attempt {attempt}");
            assert!(
                waits.iter().any(|w| *w >= ceiling * 3 / 4),
                "attempt {attempt}"
            );
        }
        let day = Duration::from_secs(24 * 3600);
        assert!(r.wait(40) < day && r.wait(31) < day);
        let none = Retry {
            max_retries: 5,
            backoff: Duration::ZERO,
        };
        assert_eq!(none.wait(3), Duration::ZERO);
    }
}
