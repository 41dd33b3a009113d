//! Config providers against the real broker and the e2e kube-apiserver: a secret referenced
//! through each provider reaches its connector, and appears nowhere else — not in the
//! worker's log, the REST responses, or the config topic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// The worker settings declaring all four providers under Kafka's and Strimzi's class names.
fn provider_props(group: &str, port: u16, allowed: &Path) -> Vec<(String, String)> {
    let mut props = distributed_props(group, port);
    let allowed = allowed.display().to_string();
    props.extend(
        [
            ("config.providers", "file,env,dir,secrets"),
            (
                "config.providers.file.class",
                "org.apache.kafka.common.config.provider.FileConfigProvider",
            ),
            ("config.providers.file.param.allowed.paths", &allowed),
            (
                "config.providers.dir.class",
                "org.apache.kafka.common.config.provider.DirectoryConfigProvider",
            ),
            ("config.providers.dir.param.allowed.paths", &allowed),
            (
                "config.providers.env.class",
                "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
            ),
            (
                "config.providers.env.param.allowlist.pattern",
                "FERRY_TEST_.*",
            ),
            (
                "config.providers.secrets.class",
                "io.strimzi.kafka.KubernetesSecretConfigProvider",
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    props
}

/// Every record of a topic as `key value` lines, read with kcat.
fn topic_text(topic: &str) -> String {
    let out = std::process::Command::new("kcat")
        .args(["-b", &bootstrap(), "-C", "-t", topic, "-e", "-q"])
        .args(["-f", "%k %s\n"])
        .output()
        .expect("kcat (apt package kcat) runs");
    assert!(
        out.status.success(),
        "kcat failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Creates a Secret in the e2e kube-apiserver (kubectl with its KUBECONFIG).
fn kube_secret(name: &str, key: &str, value: &str) {
    let out = std::process::Command::new("kubectl")
        .args(["-n", "default", "create", "secret", "generic", name])
        .arg(format!("--from-literal={key}={value}"))
        .output()
        .expect("kubectl runs (eval \"$(e2e/services env)\")");
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn delete_kube_secret(name: &str) {
    let _ = std::process::Command::new("kubectl")
        .args(["-n", "default", "delete", "secret", name])
        .output();
}

/// Waits until the worker joined its group (`GET /health` answers 200).
async fn wait_joined(worker: &Worker) {
    wait_for(
        "the worker to join its group",
        Duration::from_secs(60),
        || async { (worker.call("GET", "/health", None).await.0 == 200).then_some(()) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_through_each_provider_reaches_the_connector_and_nowhere_else() {
    let dir = tempfile::tempdir().unwrap();
    let secrets_dir = dir.path().join("secrets");
    std::fs::create_dir_all(secrets_dir.join("mounted")).unwrap();
    let topic = unique("providers");
    let group = unique("providers");
    let token = unique("s3cr3t");

    // Each sink writes to a file whose name is the secret, read through one provider.
    let out = |provider: &str| dir.path().join(format!("out-{provider}-{token}.txt"));
    let file_props = secrets_dir.join("sink.properties");
    std::fs::write(&file_props, format!("out.file={}\n", out("file").display())).unwrap();
    std::fs::write(
        secrets_dir.join("mounted").join("out.file"),
        out("dir").display().to_string(),
    )
    .unwrap();
    let kube_name = unique("ferry-provider").to_lowercase();
    kube_secret(
        &kube_name,
        "out.file",
        &out("secrets").display().to_string(),
    );
    let env_out = out("env").display().to_string();

    let port = free_port();
    let worker = Worker::start_distributed_env(
        dir.path(),
        &provider_props(&group, port, &secrets_dir),
        &[("FERRY_TEST_SINK_FILE", env_out.as_str())],
    )
    .await;
    wait_joined(&worker).await;

    let input = dir.path().join("in.txt");
    let lines_in: Vec<String> = (0..20).map(|i| format!("line {i}")).collect();
    std::fs::write(&input, lines_in.join("\n") + "\n").unwrap();
    let (code, body, _) = worker
        .call(
            "PUT",
            "/connectors/src/config",
            Some(json!({
                "connector.class": "FileStreamSource",
                "file": input.display().to_string(),
                "topic": topic,
            })),
        )
        .await;
    assert_eq!(code, 201, "{body}");

    let references = [
        (
            "file",
            format!("${{file:{}:out.file}}", file_props.display()),
        ),
        (
            "dir",
            format!(
                "${{dir:{}:out.file}}",
                secrets_dir.join("mounted").display()
            ),
        ),
        ("env", "${env:FERRY_TEST_SINK_FILE}".to_owned()),
        (
            "secrets",
            format!("${{secrets:default/{kube_name}:out.file}}"),
        ),
    ];
    for (provider, reference) in &references {
        let config = json!({
            "connector.class": "FileStreamSink",
            "file": reference,
            "topics": topic,
        });
        let path = format!("/connectors/sink-{provider}/config");
        let (code, body, _) = worker.call("PUT", &path, Some(config.clone())).await;
        assert_eq!(code, 201, "{body}");
    }

    // The secret reached each connector: its sink wrote every line to the secret file.
    for (provider, _) in &references {
        worker
            .wait_state(&format!("sink-{provider}"), "RUNNING", 1)
            .await;
        let path = out(provider);
        wait_for(
            &format!("20 lines through the {provider} provider"),
            Duration::from_secs(60),
            || async { (lines(&path) == lines_in).then_some(()) },
        )
        .await;
    }

    // ... and appears nowhere else.
    let mut seen = Vec::new();
    for (provider, reference) in &references {
        let name = format!("sink-{provider}");
        let config = worker.get(&format!("/connectors/{name}/config")).await;
        assert_eq!(config["file"], json!(reference), "{config}");
        let tasks = worker.get(&format!("/connectors/{name}/tasks")).await;
        assert_eq!(tasks[0]["config"]["file"], json!(reference), "{tasks}");
        seen.push(config);
        seen.push(tasks);
        seen.push(worker.get(&format!("/connectors/{name}/status")).await);
        seen.push(worker.get(&format!("/connectors/{name}")).await);
    }
    seen.push(worker.get("/connectors?expand=info&expand=status").await);
    let rest = serde_json::to_string(&seen).unwrap();
    let config_topic = topic_text(&format!("{group}-configs"));
    assert!(
        config_topic.contains("FERRY_TEST_SINK_FILE") && config_topic.contains(&kube_name),
        "the config topic holds the references: {config_topic}"
    );
    let log = worker.log_text();
    for (what, text) in [
        ("REST", &rest),
        ("config topic", &config_topic),
        ("log", &log),
    ] {
        assert!(
            !text.contains(&token),
            "the secret leaked into the {what}: {text}"
        );
    }

    // A rotated secret is read again when the connector restarts: the file provider's sink
    // writes what comes next to the new file.
    let rotated = dir.path().join(format!("out-rotated-{token}.txt"));
    std::fs::write(&file_props, format!("out.file={}\n", rotated.display())).unwrap();
    let (code, body, _) = worker
        .call(
            "POST",
            "/connectors/sink-file/restart?includeTasks=true",
            None,
        )
        .await;
    assert_eq!(code, 202, "{body}");
    worker.wait_state("sink-file", "RUNNING", 1).await;
    let more: Vec<String> = (20..30).map(|i| format!("line {i}")).collect();
    let mut all = lines_in.clone();
    all.extend(more.iter().cloned());
    std::fs::write(&input, all.join("\n") + "\n").unwrap();
    wait_for(
        "the new lines in the rotated file",
        Duration::from_secs(60),
        || async { (lines(&rotated) == more).then_some(()) },
    )
    .await;
    // The other sinks still resolve to their own (unchanged) secrets.
    wait_for(
        "every line through the env provider",
        Duration::from_secs(60),
        || async { (lines(&out("env")) == all).then_some(()) },
    )
    .await;
    assert_eq!(lines(&out("file")), lines_in);
    delete_kube_secret(&kube_name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unresolvable_references_fail_with_the_provider_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let group = unique("providers-bad");
    let port = free_port();
    let worker =
        Worker::start_distributed(dir.path(), &provider_props(&group, port, dir.path())).await;
    wait_joined(&worker).await;
    let missing = dir.path().join("missing.properties");
    let cases = [
        (
            "bad-file",
            format!("${{file:{}:password}}", missing.display()),
            format!(
                "config provider 'file' (org.apache.kafka.common.config.provider.FileConfigProvider), path '{}': could not read {}",
                missing.display(),
                missing.display()
            ),
        ),
        (
            "bad-env",
            "${env:FERRY_TEST_NOT_SET}".to_owned(),
            "config provider 'env' has no key 'FERRY_TEST_NOT_SET' at path ''".to_owned(),
        ),
        (
            "bad-allowed",
            "${dir:/etc:hostname}".to_owned(),
            "path /etc is not under the provider's allowed.paths".to_owned(),
        ),
    ];
    for (name, reference, _) in &cases {
        let (code, body, _) = worker
            .call(
                "PUT",
                &format!("/connectors/{name}/config"),
                Some(json!({
                    "connector.class": "FileStreamSink",
                    "file": reference,
                    "topics": unique("unused"),
                })),
            )
            .await;
        assert_eq!(code, 201, "{body}");
    }
    for (name, _, expected) in &cases {
        let status: Value = wait_for(
            &format!("{name} to fail"),
            Duration::from_secs(30),
            || async {
                let s = worker.get(&format!("/connectors/{name}/status")).await;
                (s["connector"]["state"] == "FAILED").then_some(s)
            },
        )
        .await;
        let trace = status["connector"]["trace"].as_str().unwrap_or_default();
        assert!(trace.contains(expected.as_str()), "{name}: {trace}");
    }
}
