//! A distributed worker against a broker that requires SASL: the group membership client logs
//! in with SCRAM or PLAIN like every other client of the worker, and wrong credentials are
//! refused with a message that names the broker and the user.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use common::broker::PrivateBroker;
use common::*;
use ferry_runtime::cluster::{GroupMember, MembershipConfig};
use serde_json::json;

const SCRAM_JAAS: &str = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";"#;

fn membership(bootstrap: &str, props: &[(&str, &str)]) -> MembershipConfig {
    let mut all: Vec<(String, String)> = vec![
        ("bootstrap.servers".into(), bootstrap.into()),
        ("group.id".into(), unique("sasl-group")),
    ];
    all.extend(props.iter().map(|(k, v)| ((*k).into(), (*v).into())));
    MembershipConfig::from_worker(&all.into_iter().collect()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_runs_against_a_broker_that_requires_scram() {
    let dir = tempfile::tempdir().unwrap();
    let broker = PrivateBroker::start_with_sasl(dir.path());
    let sasl = broker.sasl_bootstrap.clone().unwrap();

    // The membership client alone: each mechanism logs in; a wrong password is refused.
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let jaas = if mechanism == "PLAIN" {
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret";"#
        } else {
            SCRAM_JAAS
        };
        let config = membership(
            &sasl,
            &[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", mechanism),
                ("sasl.jaas.config", jaas),
            ],
        );
        let mut member = GroupMember::new(config).unwrap();
        member
            .ensure_coordinator()
            .await
            .unwrap_or_else(|e| panic!("{mechanism}: {e}"));

        let wrong = jaas.replace("alice-secret", "not-the-password");
        let config = membership(
            &sasl,
            &[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", mechanism),
                ("sasl.jaas.config", &wrong),
            ],
        );
        let err = GroupMember::new(config)
            .unwrap()
            .ensure_coordinator()
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("cannot authenticate with Kafka broker {sasl}"))
                && err.contains("alice"),
            "{mechanism}: {err}"
        );
        assert!(!err.contains("not-the-password"), "{err}");
    }

    // A whole worker: membership, internal topics and task clients all over SCRAM.
    let group = unique("ferry-sasl");
    let mut props = distributed_props(&group, free_port());
    props.retain(|(k, _)| k != "bootstrap.servers");
    props.push(("bootstrap.servers".into(), sasl.clone()));
    for prefix in ["", "producer.", "consumer.", "admin."] {
        props.push((
            format!("{prefix}security.protocol"),
            "SASL_PLAINTEXT".into(),
        ));
        props.push((format!("{prefix}sasl.mechanism"), "SCRAM-SHA-512".into()));
        props.push((format!("{prefix}sasl.jaas.config"), SCRAM_JAAS.into()));
    }
    let worker = Worker::start_distributed(dir.path(), &props).await;
    let (src, sink) = (unique("src"), unique("sink"));
    let topic = unique("sasl-topic");
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    {
        let mut f = std::fs::File::create(&input).unwrap();
        for i in 0..500 {
            writeln!(f, "line-{i}").unwrap();
        }
    }
    for (name, config) in [
        (
            &src,
            json!({"connector.class": "FileStreamSource", "file": input.to_str().unwrap(), "topic": topic}),
        ),
        (
            &sink,
            json!({"connector.class": "FileStreamSink", "file": output.to_str().unwrap(), "topics": topic}),
        ),
    ] {
        worker.create_connector(name, config).await;
    }
    worker.wait_state(&src, "RUNNING", 1).await;
    worker.wait_state(&sink, "RUNNING", 1).await;
    wait_for(
        "500 lines through SCRAM",
        Duration::from_secs(60),
        || async {
            let got: BTreeSet<String> = lines(&output).into_iter().collect();
            (got.len() == 500).then_some(())
        },
    )
    .await;
    assert!(
        !worker.log_text().contains("alice-secret"),
        "the password reached the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_runs_against_a_broker_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let broker = PrivateBroker::start_with_tls(dir.path());
    let (tls, ca) = broker.tls.clone().unwrap();
    let ca = ca.to_str().unwrap().to_owned();

    // The membership client trusts the CA from a PEM truststore and checks the host (an IP SAN).
    let trusting = [
        ("security.protocol", "SSL"),
        ("ssl.truststore.type", "PEM"),
        ("ssl.truststore.location", ca.as_str()),
    ];
    GroupMember::new(membership(&tls, &trusting))
        .unwrap()
        .ensure_coordinator()
        .await
        .unwrap();
    // A truststore without that CA: refused, naming the broker.
    let other = dir.path().join("other-ca.pem");
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
        .arg(dir.path().join("other.key"))
        .arg("-out")
        .arg(&other)
        .args(["-days", "1", "-subj", "/CN=someone-else"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = GroupMember::new(membership(
        &tls,
        &[
            ("security.protocol", "SSL"),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", other.to_str().unwrap()),
        ],
    ))
    .unwrap()
    .ensure_coordinator()
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&format!("cannot authenticate with Kafka broker {tls}"))
            && err.contains("TLS handshake failed"),
        "{err}"
    );

    // A whole worker over TLS: its librdkafka clients read the same PEM truststore.
    let group = unique("ferry-tls");
    let mut props = distributed_props(&group, free_port());
    props.retain(|(k, _)| k != "bootstrap.servers");
    props.push(("bootstrap.servers".into(), tls.clone()));
    for prefix in ["", "producer.", "consumer.", "admin."] {
        for (k, v) in trusting {
            props.push((format!("{prefix}{k}"), v.into()));
        }
    }
    let worker = Worker::start_distributed(dir.path(), &props).await;
    let sink = unique("sink");
    let topic = unique("tls-topic");
    let output = dir.path().join("out.txt");
    worker
        .create_connector(
            &sink,
            json!({"connector.class": "FileStreamSink", "file": output.to_str().unwrap(), "topics": topic}),
        )
        .await;
    worker.wait_state(&sink, "RUNNING", 1).await;
}
