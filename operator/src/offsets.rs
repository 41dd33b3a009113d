//! Offsets from the resource: the `ferry.dev/offsets` annotation (`list`, `alter`, `reset`),
//! carried out through the cluster's offsets endpoints with the ConfigMap of `spec.offsets`.
//!
//! The outcome is the `Offsets` condition (plus an Event when it changes). The annotation is
//! removed once the operation is done; when it cannot be done yet (the connector is not
//! STOPPED, no ConfigMap, offsets that do not parse or that the cluster refuses) it stays, so
//! the operation happens once the cause is fixed.

use std::str::FromStr;

use ferry_crds::{Connector, ConnectorState, ConnectorStatus, annotations, conditions};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use tracing::info;

use crate::Context;
use crate::controller::{Error, set_condition};
use crate::rest::{ConnectRest, RestError};

/// The condition type that reports the last offsets operation.
pub const CONDITION: &str = "Offsets";

/// The field manager of the ConfigMap key `list` writes.
const FIELD_MANAGER: &str = "ferry-operator";

/// An offsets operation, as the annotation names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `GET /connectors/{name}/offsets` into the ConfigMap.
    List,
    /// `PATCH /connectors/{name}/offsets` with the ConfigMap's offsets (only while stopped).
    Alter,
    /// `DELETE /connectors/{name}/offsets` (only while stopped).
    Reset,
}

impl FromStr for Op {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "list" => Ok(Self::List),
            "alter" => Ok(Self::Alter),
            "reset" => Ok(Self::Reset),
            other => Err(format!(
                "{}: {other:?} is not an offsets operation (list, alter or reset)",
                annotations::OFFSETS
            )),
        }
    }
}

/// How an operation ended: the `Offsets` condition, and whether the annotation is done with.
struct Outcome {
    ok: bool,
    reason: &'static str,
    message: String,
    done: bool,
}

impl Outcome {
    fn done(reason: &'static str, message: String) -> Self {
        Self {
            ok: true,
            reason,
            message,
            done: true,
        }
    }

    fn not_yet(reason: &'static str, message: String) -> Self {
        Self {
            ok: false,
            reason,
            message,
            done: false,
        }
    }
}

/// Carries out the `ferry.dev/offsets` annotation of `conn`, if it has one. `actual` is the
/// connector's state on the cluster; `status` gets the `Offsets` condition. Returns whether the
/// annotation is done with: the caller removes it *after* writing the status, so a reconcile that
/// starts from a cached object without the annotation also sees the outcome (and never writes an
/// older one back). Errors talking to the cluster (unreachable, 409, 5xx) propagate, to be
/// retried with backoff.
pub async fn handle(
    conn: &Connector,
    ctx: &Context,
    rest: &ConnectRest<'_>,
    status: &mut ConnectorStatus,
    actual: Option<&str>,
) -> Result<bool, Error> {
    let Some(value) = conn.annotations().get(annotations::OFFSETS) else {
        return Ok(false);
    };
    let outcome = match value.parse::<Op>() {
        Ok(op) => run(conn, ctx, rest, op, actual).await?,
        Err(message) => Outcome {
            ok: false,
            reason: "InvalidAnnotation",
            message,
            done: true,
        },
    };
    let changed = status
        .conditions
        .iter()
        .find(|c| c.type_ == CONDITION)
        .is_none_or(|c| c.reason != outcome.reason || c.message != outcome.message);
    let flag = if outcome.ok {
        conditions::TRUE
    } else {
        conditions::FALSE
    };
    set_condition(
        status,
        conn,
        CONDITION,
        flag,
        outcome.reason,
        &outcome.message,
    );
    // A successful operation is reported every time it is done; a refusal only when it is new,
    // since the annotation stays and every reconcile meets it again.
    if outcome.done || changed {
        let type_ = if outcome.ok {
            EventType::Normal
        } else {
            EventType::Warning
        };
        ctx.publish(conn, type_, outcome.reason, outcome.message.clone())
            .await;
    }
    if outcome.done {
        info!(connector = %format!("{}/{}", conn.namespace().unwrap_or_default(), conn.name_any()), "{}", outcome.message);
    }
    Ok(outcome.done)
}

async fn run(
    conn: &Connector,
    ctx: &Context,
    rest: &ConnectRest<'_>,
    op: Op,
    actual: Option<&str>,
) -> Result<Outcome, Error> {
    let name = conn.name_any();
    let ns = conn.namespace().unwrap_or_default();
    if matches!(op, Op::Alter | Op::Reset)
        && (conn.spec.state != ConnectorState::Stopped || actual != Some("STOPPED"))
    {
        let verb = if op == Op::Alter { "alter" } else { "reset" };
        return Ok(Outcome::not_yet(
            "NotStopped",
            format!(
                "cannot {verb} the offsets of connector {name} while it is {}: set spec.state to stopped first (the {} annotation stays until then)",
                actual.unwrap_or("absent"),
                annotations::OFFSETS
            ),
        ));
    }
    let config_map = conn.spec.offsets.as_ref().map(|o| &o.config_map);
    match op {
        Op::Reset => {
            if let Some(o) = refused(rest.reset_offsets(&name).await)? {
                return Ok(o);
            }
            Ok(Outcome::done(
                "OffsetsReset",
                format!("reset the offsets of connector {name}"),
            ))
        }
        Op::List => {
            let Some(cm) = config_map else {
                return Ok(no_config_map("list"));
            };
            let offsets = match rest.offsets(&name).await {
                Ok(v) => v,
                Err(e) if is_refusal(&e) => {
                    return Ok(Outcome::not_yet("OffsetsRejected", e.to_string()));
                }
                Err(e) => return Err(e.into()),
            };
            let count = partitions(&offsets);
            let text = serde_json::to_string_pretty(&offsets)?;
            let key = cm.key_or_default();
            let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
            let body = json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": cm.name, "namespace": ns},
                "data": {key: text},
            });
            api.patch(
                &cm.name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&body),
            )
            .await?;
            Ok(Outcome::done(
                "OffsetsListed",
                format!(
                    "wrote the offsets of connector {name} ({count} partition(s)) to ConfigMap {}, key {key}",
                    cm.name
                ),
            ))
        }
        Op::Alter => {
            let Some(cm) = config_map else {
                return Ok(no_config_map("alter"));
            };
            let key = cm.key_or_default();
            let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
            let Some(found) = api.get_opt(&cm.name).await? else {
                return Ok(Outcome::not_yet(
                    "ConfigMapNotFound",
                    format!(
                        "ConfigMap {ns}/{} (spec.offsets.configMap) does not exist",
                        cm.name
                    ),
                ));
            };
            let text = found.data.as_ref().and_then(|d| d.get(key));
            let Some(text) = text else {
                return Ok(Outcome::not_yet(
                    "InvalidOffsets",
                    format!("ConfigMap {ns}/{} has no key {key}", cm.name),
                ));
            };
            let offsets = match parse_offsets(text) {
                Ok(v) => v,
                Err(e) => {
                    return Ok(Outcome::not_yet(
                        "InvalidOffsets",
                        format!("ConfigMap {ns}/{} key {key}: {e}", cm.name),
                    ));
                }
            };
            let count = partitions(&offsets);
            if let Some(o) = refused(rest.alter_offsets(&name, &offsets).await)? {
                return Ok(o);
            }
            Ok(Outcome::done(
                "OffsetsAltered",
                format!(
                    "altered the offsets of connector {name} ({count} partition(s)) from ConfigMap {}, key {key}",
                    cm.name
                ),
            ))
        }
    }
}

fn no_config_map(verb: &str) -> Outcome {
    Outcome::not_yet(
        "NoConfigMap",
        format!(
            "spec.offsets.configMap is not set: {verb} needs a ConfigMap for the offsets (the {} annotation stays until it is set)",
            annotations::OFFSETS
        ),
    )
}

/// A 4xx other than 409 (the cluster refuses the request as it is) becomes a `not_yet`
/// outcome; other errors propagate to be retried with backoff.
fn refused(res: Result<(), RestError>) -> Result<Option<Outcome>, Error> {
    match res {
        Ok(()) => Ok(None),
        Err(e) if is_refusal(&e) => Ok(Some(Outcome::not_yet("OffsetsRejected", e.to_string()))),
        Err(e) => Err(e.into()),
    }
}

fn is_refusal(e: &RestError) -> bool {
    e.status().is_some_and(|s| s.is_client_error()) && !e.is_conflict()
}

/// The body of an alter request from the ConfigMap: `{"offsets": [{"partition": {...},
/// "offset": {...}}, ...]}`, the shape `GET /connectors/{name}/offsets` returns.
pub fn parse_offsets(text: &str) -> Result<Value, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let entries = value.get("offsets").and_then(Value::as_array).ok_or(
        "expected an object with an \"offsets\" array, as GET /connectors/{name}/offsets returns",
    )?;
    for (i, entry) in entries.iter().enumerate() {
        if !entry.get("partition").is_some_and(Value::is_object) {
            return Err(format!("offsets[{i}] has no \"partition\" object"));
        }
        if !entry
            .get("offset")
            .is_some_and(|o| o.is_object() || o.is_null())
        {
            return Err(format!(
                "offsets[{i}] has no \"offset\" (an object, or null to remove the partition's offset)"
            ));
        }
    }
    Ok(value)
}

fn partitions(offsets: &Value) -> usize {
    offsets
        .get("offsets")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn operations_parse() {
        assert_eq!("list".parse::<Op>(), Ok(Op::List));
        assert_eq!(" alter ".parse::<Op>(), Ok(Op::Alter));
        assert_eq!("reset".parse::<Op>(), Ok(Op::Reset));
        let err = "delete".parse::<Op>().unwrap_err();
        assert!(
            err.contains("\"delete\" is not an offsets operation"),
            "{err}"
        );
    }

    #[test]
    fn alter_bodies_are_checked() {
        let good = r#"{"offsets": [{"partition": {"filename": "/x"}, "offset": {"position": 4}}]}"#;
        assert_eq!(partitions(&parse_offsets(good).unwrap_or_default()), 1);
        let removal = r#"{"offsets": [{"partition": {"filename": "/x"}, "offset": null}]}"#;
        assert!(parse_offsets(removal).is_ok());
        assert!(parse_offsets("nope").unwrap_err().starts_with("not JSON"));
        assert!(
            parse_offsets(r#"{"offset": []}"#)
                .unwrap_err()
                .contains("\"offsets\" array")
        );
        assert_eq!(
            parse_offsets(r#"{"offsets": [{"offset": {}}]}"#).unwrap_err(),
            "offsets[0] has no \"partition\" object"
        );
        assert!(
            parse_offsets(r#"{"offsets": [{"partition": {}}]}"#)
                .unwrap_err()
                .starts_with("offsets[0] has no \"offset\"")
        );
    }
}
