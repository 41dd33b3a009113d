//! Helpers shared by the operator's integration tests.

#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};

/// How often [`eventually`] polls.
pub const POLL: Duration = Duration::from_millis(200);

/// How long [`install_crds`] waits for a CRD to be Established.
const CRD_WAIT: Duration = Duration::from_secs(60);

/// The value of `var`, or a panic saying how to bring the services up.
pub fn required_env(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: these tests need a real Kafka and Kubernetes; run \
             `e2e/services up kafka kube && eval \"$(e2e/services env)\"` first"
        ),
    }
}

/// `prefix` made unique per process and call, for names of namespaces, topics, groups.
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000)
}

/// Polls `f` every [`POLL`] until it returns `Some`, panicking after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The `ferry` binary: `$FERRY_BIN`, else `debug/ferry` in the target dir.
pub fn ferry_bin() -> PathBuf {
    if let Ok(p) = std::env::var("FERRY_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug/ferry");
    assert!(
        bin.exists(),
        "{} not found: build the worker first with `cargo build -p ferry-runtime --bin ferry` \
         (or set FERRY_BIN)",
        bin.display()
    );
    bin
}

/// Server-side-applies the CRDs of `ferry-crds` and waits until they are Established.
pub async fn install_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in ferry_crds::crds() {
        let name = crd.name_any();
        api.patch(
            &name,
            &PatchParams::apply("ferry-operator-tests").force(),
            &Patch::Apply(&crd),
        )
        .await
        .expect("apply CRD");
        eventually(&format!("CRD {name} Established"), CRD_WAIT, || async {
            let crd = api.get(&name).await.ok()?;
            crd.status?
                .conditions?
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
                .then_some(())
        })
        .await;
    }
}
pub mod worker;
