//! What a user does: `kubectl apply` of YAML manifests to a real kube-apiserver with the
//! `ferry-operator` binary running, `kubectl wait` / `get` / `patch` / `annotate` /
//! `delete`, and the connector doing its job on a real `ferry` worker (an external
//! ConnectCluster). Needs `e2e/services up kafka kube` and `eval "$(e2e/services env)"`.

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

mod common;
use common::worker::{Worker, free_port};
use common::{eventually, required_env, unique};

const WAIT: Duration = Duration::from_secs(60);

/// Runs kubectl; the whole output.
fn kubectl(args: &[&str]) -> Output {
    Command::new("kubectl")
        .args(args)
        .output()
        .expect("run kubectl (is it on PATH? `eval \"$(e2e/services env)\"` puts it there)")
}

/// Runs kubectl and returns its stdout, failing the test on a non-zero exit.
fn kubectl_ok(args: &[&str]) -> String {
    let out = kubectl(args);
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs kubectl with `yaml` on stdin (`-f -`).
fn kubectl_stdin(args: &[&str], yaml: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kubectl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(yaml.as_bytes())
        .expect("write manifest");
    child.wait_with_output().expect("kubectl output")
}

/// The `ferry-operator` binary watching one namespace; killed on drop, its log printed if
/// the test fails.
struct Operator {
    child: Child,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Operator {
    async fn start(http: &reqwest::Client, ns: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("operator.log");
        let file = std::fs::File::create(&log).expect("log file");
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_ferry-operator"))
            .args(["run", "--namespace", ns, "--leader-election=false"])
            .args(["--port", &port.to_string(), "--requeue-seconds", "2"])
            .stdout(Stdio::from(file.try_clone().expect("log file")))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("spawn ferry-operator");
        let op = Self {
            child,
            log,
            _dir: dir,
        };
        eventually("the operator's /health", WAIT, || async {
            let r = http
                .get(format!("http://127.0.0.1:{port}/health"))
                .send()
                .await
                .ok()?;
            r.status().is_success().then_some(())
        })
        .await;
        op
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "ferry-operator log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kubectl patch connector/lines --type=merge -p {"spec": SPEC}`.
fn patch_spec(ns: &str, spec: &str) {
    let patch = format!(r#"{{"spec":{spec}}}"#);
    kubectl_ok(&[
        "patch",
        "-n",
        ns,
        "connector/lines",
        "--type=merge",
        "-p",
        &patch,
    ]);
}

async fn worker_status(http: &reqwest::Client, worker: &Worker, name: &str) -> Option<Value> {
    let r = http
        .get(format!("{}/connectors/{name}/status", worker.url))
        .send()
        .await
        .ok()?;
    r.status().is_success().then_some(())?;
    r.json().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_runs_a_pipeline_end_to_end() {
    required_env("KUBECONFIG");
    let bootstrap = required_env("KAFKA_BOOTSTRAP_SERVERS");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");
    // The committed CRD YAML, as a user installs it.
    let crds = concat!(env!("CARGO_MANIFEST_DIR"), "/../crds/ferry-crds.yaml");
    kubectl_ok(&["apply", "--server-side", "--force-conflicts", "-f", crds]);
    kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "crd/connectors.ferry.dev",
        "crd/connectclusters.ferry.dev",
        "--timeout=60s",
    ]);
    let ns = unique("ferry-kubectl");
    kubectl_ok(&["create", "namespace", &ns]);
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = kubectl(&["delete", "namespace", &self.0, "--wait=false"]);
        }
    }
    let _cleanup = Cleanup(ns.clone());

    let worker = Worker::standalone(&http).await;
    let _operator = Operator::start(&http, &ns).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("input.txt");
    std::fs::write(&input, "one\ntwo\n").expect("input");
    let topic = unique("ferry-kubectl-topic");
    let manifest = format!(
        r#"apiVersion: ferry.dev/v1alpha1
kind: ConnectCluster
metadata:
  name: local
spec:
  bootstrapServers: "{bootstrap}"
  external: "{url}"
---
apiVersion: ferry.dev/v1alpha1
kind: Connector
metadata:
  name: lines
spec:
  clusterRef:
    name: local
  class: FileStreamSource
  tasksMax: 1
  config:
    file: "{file}"
    topic: "{topic}"
"#,
        url = worker.url,
        file = input.display(),
    );
    let out = kubectl_stdin(&["apply", "-n", &ns, "-f", "-"], &manifest);
    assert!(out.status.success(), "kubectl apply: {out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "connectcluster.ferry.dev/local created\nconnector.ferry.dev/lines created\n"
    );
    kubectl_ok(&[
        "wait",
        "-n",
        &ns,
        "--for=condition=Ready",
        "connector/lines",
        "--timeout=60s",
    ]);
    let text = kubectl_ok(&["get", "connectors", "-n", &ns, "--no-headers"]);
    let cells: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(
        cells[..6],
        ["lines", "local", "FileStreamSource", "1", "RUNNING", "True"],
        "{text}"
    );
    // The connector does its job: both lines are in the topic.
    let got = eventually("2 records in the topic", WAIT, || async {
        let out = Command::new("kcat")
            .args(["-b", &bootstrap, "-C", "-t", &topic, "-e", "-q"])
            .output()
            .ok()?;
        let s = String::from_utf8_lossy(&out.stdout).into_owned();
        (s.lines().count() == 2).then_some(s)
    })
    .await;
    assert_eq!(got, "\"one\"\n\"two\"\n");

    // Applying the same manifest again changes nothing (GitOps tools do this all the time).
    let out = kubectl_stdin(&["apply", "-n", &ns, "-f", "-"], &manifest);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "connectcluster.ferry.dev/local unchanged\nconnector.ferry.dev/lines unchanged\n"
    );

    // A config edit reaches the worker.
    patch_spec(&ns, r#"{"config":{"batch.size":"7"}}"#);
    eventually("the edited config on the worker", WAIT, || async {
        let r = http
            .get(format!("{}/connectors/lines/config", worker.url))
            .send()
            .await
            .ok()?;
        let c: Value = r.json().await.ok()?;
        (c["batch.size"] == "7" && c["topic"] == topic.as_str()).then_some(())
    })
    .await;

    // Pause through the spec; the worker and `kubectl get` follow.
    patch_spec(&ns, r#"{"state":"paused"}"#);
    eventually(
        "lines PAUSED on the worker and in its status",
        WAIT,
        || async {
            let s = worker_status(&http, &worker, "lines").await?;
            let shown = kubectl_ok(&[
                "get",
                "-n",
                &ns,
                "connector/lines",
                "-o",
                "jsonpath={.status.connectorStatus.connector.state}",
            ]);
            (s["connector"]["state"] == "PAUSED" && shown == "PAUSED").then_some(())
        },
    )
    .await;
    patch_spec(&ns, r#"{"state":"running"}"#);

    // The restart annotation is acted on and removed.
    kubectl_ok(&[
        "annotate",
        "-n",
        &ns,
        "connector/lines",
        "ferry.dev/restart=true",
    ]);
    eventually("the restart annotation removed", WAIT, || async {
        let a = kubectl_ok(&[
            "get",
            "-n",
            &ns,
            "connector/lines",
            "-o",
            "jsonpath={.metadata.annotations}",
        ]);
        (!a.contains("ferry.dev/restart")).then_some(())
    })
    .await;
    kubectl_ok(&[
        "wait",
        "-n",
        &ns,
        "--for=jsonpath={.status.connectorStatus.connector.state}=RUNNING",
        "connector/lines",
        "--timeout=60s",
    ]);

    // A spec the API server refuses, with the field named.
    let bad = manifest
        .split("---\n")
        .nth(1)
        .expect("connector document")
        .replace("name: lines", "name: bad")
        .replace("tasksMax: 1", "tasksMax: 0");
    let out = kubectl_stdin(&["apply", "-n", &ns, "-f", "-"], &bad);
    assert!(!out.status.success(), "tasksMax 0 was accepted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("spec.tasksMax"), "{err}");
    let out = kubectl_stdin(
        &["apply", "-n", &ns, "-f", "-"],
        &bad.replace("tasksMax: 0", "tasksMax: 1\n  state: sleeping"),
    );
    assert!(!out.status.success(), "state sleeping was accepted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.state") && err.contains("\"running\""),
        "{err}"
    );

    // `kubectl delete` waits for the finalizer: the connector is gone from the worker when
    // it returns, even with its (external) ConnectCluster deleted first — the operator
    // deletes it from the URL it was applied to (status.restUrl).
    let url = kubectl_ok(&[
        "get",
        "-n",
        &ns,
        "connector/lines",
        "-o",
        "jsonpath={.status.restUrl}",
    ]);
    assert_eq!(url, worker.url);
    kubectl_ok(&["delete", "-n", &ns, "--timeout=60s", "connectcluster/local"]);
    kubectl_ok(&["delete", "-n", &ns, "--timeout=60s", "connector/lines"]);
    let r = http
        .get(format!("{}/connectors/lines", worker.url))
        .send()
        .await
        .expect("GET connector");
    assert_eq!(r.status(), 404);
}
