//! The Connector controller against a real Kubernetes control plane and a real `ferry standalone`
//! worker (bring them up with `e2e/services up kafka kube` and `eval "$(e2e/services env)"`).

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferry_crds::{
    AutoRestartSpec, AutoRestartStatus, ClusterRef, ConfigMapKeyRef, ConnectCluster,
    ConnectClusterSpec, Connector, ConnectorSpec, ConnectorState, OffsetsSpec, annotations,
};
use ferry_operator::auto_restart::Timing;
use ferry_operator::{Context, Settings, controller};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use prometheus_client::registry::Registry;
use serde_json::{Value, json};

mod common;
use common::worker::Worker;
use common::{eventually, install_crds, required_env, unique};

const WAIT: Duration = Duration::from_secs(60);

async fn create_namespace(client: &Client, prefix: &str) -> String {
    let name = unique(prefix);
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    api.create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
    name
}

async fn delete_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let _ = api.delete(name, &DeleteParams::default()).await;
}

/// Starts the controller in-process, watching `namespace`; aborted when the handle drops.
struct ControllerTask {
    task: tokio::task::JoinHandle<()>,
    ctx: Arc<Context>,
}

impl ControllerTask {
    fn start(client: &Client, namespace: &str, rest_timeout: Duration) -> Self {
        Self::start_with(
            client,
            Settings {
                namespace: Some(namespace.to_owned()),
                requeue_after: Duration::from_secs(1),
                rest_timeout,
                cleanup_grace: Duration::from_secs(10),
                ..Settings::default()
            },
        )
    }

    fn start_with(client: &Client, settings: Settings) -> Self {
        let mut registry = Registry::default();
        let ctx = Context::new(client.clone(), settings, &mut registry).expect("context");
        Self {
            task: tokio::spawn(controller::run(ctx.clone())),
            ctx,
        }
    }

    fn reconciles(&self) -> u64 {
        self.ctx.metrics.reconciliations.get()
    }
}

impl Drop for ControllerTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn create_cluster(client: &Client, ns: &str, name: &str, external: &str) {
    let api: Api<ConnectCluster> = Api::namespaced(client.clone(), ns);
    let cluster = ConnectCluster::new(
        name,
        ConnectClusterSpec {
            bootstrap_servers: required_env("KAFKA_BOOTSTRAP_SERVERS"),
            external: Some(external.to_owned()),
            ..ConnectClusterSpec::default()
        },
    );
    api.create(&PostParams::default(), &cluster)
        .await
        .expect("create ConnectCluster");
}

fn connector(name: &str, cluster: &str, class: &str, config: &[(&str, &str)]) -> Connector {
    Connector::new(
        name,
        ConnectorSpec {
            cluster_ref: ClusterRef {
                name: cluster.to_owned(),
                namespace: None,
            },
            class: class.to_owned(),
            config: config
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..ConnectorSpec::default()
        },
    )
}

async fn rest_get(http: &reqwest::Client, url: &str) -> Option<(u16, Value)> {
    let r = http.get(url).send().await.ok()?;
    let status = r.status().as_u16();
    let body = r.json::<Value>().await.unwrap_or(Value::Null);
    Some((status, body))
}

async fn worker_config(
    http: &reqwest::Client,
    worker: &str,
    name: &str,
) -> Option<BTreeMap<String, String>> {
    let (status, body) = rest_get(http, &format!("{worker}/connectors/{name}/config")).await?;
    if status != 200 {
        return None;
    }
    serde_json::from_value(body).ok()
}

async fn worker_state(http: &reqwest::Client, worker: &str, name: &str) -> Option<String> {
    let (status, body) = rest_get(http, &format!("{worker}/connectors/{name}/status")).await?;
    (status == 200).then(|| body["connector"]["state"].as_str().map(str::to_owned))?
}

fn ready(c: &Connector) -> Option<(String, String, String)> {
    c.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn reported_state(c: &Connector) -> Option<String> {
    Some(
        c.status
            .as_ref()?
            .connector_status
            .as_ref()?
            .connector
            .state
            .clone(),
    )
}

async fn has_event(client: &Client, ns: &str, object: &str, reason: &str) -> bool {
    let api: Api<K8sEvent> = Api::namespaced(client.clone(), ns);
    let Ok(list) = api.list(&ListParams::default()).await else {
        return false;
    };
    list.items.iter().any(|e| {
        e.reason.as_deref() == Some(reason)
            && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(object)
    })
}

/// A TCP listener that accepts connections and never answers; counts accepted connections.
async fn hanging_listener() -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (url, accepted, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_lifecycle_against_a_real_worker() {
    required_env("KUBECONFIG");
    required_env("KAFKA_BOOTSTRAP_SERVERS");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");
    let client = Client::try_default().await.expect("kube client");
    install_crds(&client).await;
    let ns = create_namespace(&client, "ferry-op").await;
    let worker = Worker::standalone(&http).await;
    let w = worker.url.clone();
    // REST calls to the hung cluster below time out after 15 s; everything else answers fast.
    let controller = ControllerTask::start(&client, &ns, Duration::from_secs(15));
    let connectors: Api<Connector> = Api::namespaced(client.clone(), &ns);

    create_cluster(&client, &ns, "local", &w).await;

    // --- create: the exact config reaches the worker, status becomes Ready.
    let input = worker.dir.path().join("input.txt");
    std::fs::write(&input, "one\ntwo\n").expect("input file");
    let input = input.display().to_string();
    let topic = unique("ferry-op-topic");
    connectors
        .create(
            &PostParams::default(),
            &connector(
                "src",
                "local",
                "FileStreamSource",
                &[("file", &input), ("topic", &topic)],
            ),
        )
        .await
        .expect("create Connector");
    let expected: BTreeMap<String, String> = [
        ("name", "src"),
        ("connector.class", "FileStreamSource"),
        ("tasks.max", "1"),
        ("file", &input),
        ("topic", &topic),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    eventually(
        "connector src with the exact config on the worker",
        WAIT,
        || async { (worker_config(&http, &w, "src").await? == expected).then_some(()) },
    )
    .await;
    let c = eventually("src Ready=True and RUNNING in status", WAIT, || async {
        let c = connectors.get("src").await.ok()?;
        let (s, _, _) = ready(&c)?;
        (s == "True" && reported_state(&c)? == "RUNNING").then_some(c)
    })
    .await;
    assert!(c.finalizers().iter().any(|f| f == controller::FINALIZER));
    let status = c.status.clone().expect("status");
    assert_eq!(status.observed_generation, c.metadata.generation);
    assert_eq!(status.tasks_max, Some(1));
    eventually("src status lists its topic", WAIT, || async {
        let c = connectors.get("src").await.ok()?;
        c.status?.topics.contains(&topic).then_some(())
    })
    .await;
    assert!(
        has_event(&client, &ns, "src", "Created").await,
        "no Created event"
    );

    // --- nothing changes → the status is not rewritten: three more reconciles (the status
    // refresh runs every second here) leave the resourceVersion as it was.
    let rv = connectors.get("src").await.expect("get").resource_version();
    let before = controller.reconciles();
    eventually(
        "three more reconciles of an unchanged Connector",
        WAIT,
        || async { (controller.reconciles() >= before + 3).then_some(()) },
    )
    .await;
    assert_eq!(
        connectors.get("src").await.expect("get").resource_version(),
        rv,
        "Connector status rewritten although nothing changed"
    );

    // --- printer columns.
    let out = Command::new("kubectl")
        .args(["get", "connectors", "-n", &ns])
        .output()
        .expect("run kubectl (is it on PATH? `eval \"$(e2e/services env)\"` puts it there)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "kubectl failed: {out:?}");
    let header = text.lines().next().unwrap_or_default();
    for col in ["NAME", "CLUSTER", "CLASS", "TASKS", "STATE", "READY", "AGE"] {
        assert!(header.contains(col), "no {col} column in:\n{text}");
    }
    let row = text
        .lines()
        .find(|l| l.starts_with("src "))
        .unwrap_or_else(|| panic!("no src row in:\n{text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[..6],
        ["src", "local", "FileStreamSource", "1", "RUNNING", "True"],
        "{text}"
    );

    // --- a spec.config change reaches the worker.
    connectors
        .patch(
            "src",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"config": {"batch.size": "500"}}})),
        )
        .await
        .expect("patch config");
    eventually("batch.size=500 on the worker", WAIT, || async {
        let cfg = worker_config(&http, &w, "src").await?;
        (cfg.get("batch.size").map(String::as_str) == Some("500")).then_some(())
    })
    .await;
    eventually("observedGeneration follows the change", WAIT, || async {
        let c = connectors.get("src").await.ok()?;
        (c.status?.observed_generation == c.metadata.generation).then_some(())
    })
    .await;

    // --- pause and resume.
    connectors
        .patch(
            "src",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"state": ConnectorState::Paused}})),
        )
        .await
        .expect("pause");
    eventually("src PAUSED on the worker", WAIT, || async {
        (worker_state(&http, &w, "src").await? == "PAUSED").then_some(())
    })
    .await;
    eventually("src PAUSED in status, Ready=False Paused", WAIT, || async {
        let c = connectors.get("src").await.ok()?;
        let (s, reason, _) = ready(&c)?;
        (reported_state(&c)? == "PAUSED" && s == "False" && reason == "Paused").then_some(())
    })
    .await;
    connectors
        .patch(
            "src",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"state": "running"}})),
        )
        .await
        .expect("resume");
    eventually("src RUNNING again, Ready=True", WAIT, || async {
        let c = connectors.get("src").await.ok()?;
        (worker_state(&http, &w, "src").await? == "RUNNING" && ready(&c)?.0 == "True").then_some(())
    })
    .await;

    // --- restart annotations are acted on and cleared.
    for (annotation, value, reason) in [
        (annotations::RESTART, "true", "Restarted"),
        (annotations::RESTART_TASK, "0", "TaskRestarted"),
    ] {
        connectors
            .patch(
                "src",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {annotation: value}}})),
            )
            .await
            .expect("annotate");
        eventually(&format!("{annotation} cleared"), WAIT, || async {
            let c = connectors.get("src").await.ok()?;
            (!c.annotations().contains_key(annotation)).then_some(())
        })
        .await;
        assert!(
            has_event(&client, &ns, "src", reason).await,
            "no {reason} event"
        );
    }

    // --- a connector deleted behind the operator's back is recreated.
    let resp = http
        .delete(format!("{w}/connectors/src"))
        .send()
        .await
        .expect("DELETE");
    assert!(resp.status().is_success(), "DELETE returned {resp:?}");
    eventually("src recreated on the worker", WAIT, || async {
        (worker_config(&http, &w, "src").await?.get("batch.size")? == "500").then_some(())
    })
    .await;

    // --- invalid config: Ready=False InvalidConfig, no secret values in the message.
    connectors
        .create(
            &PostParams::default(),
            &connector(
                "bad",
                "local",
                "FileStreamSource",
                &[("file", &input), ("db.password", "s3cr3t-value")],
            ),
        )
        .await
        .expect("create bad");
    let (_, _, message) = eventually("bad Ready=False InvalidConfig", WAIT, || async {
        let c = connectors.get("bad").await.ok()?;
        let r = ready(&c)?;
        (r.0 == "False" && r.1 == "InvalidConfig").then_some(r)
    })
    .await;
    assert!(
        message.contains("topic"),
        "message names the key: {message}"
    );
    assert!(!message.contains("s3cr3t"), "secret leaked: {message}");
    assert!(
        worker_config(&http, &w, "bad").await.is_none(),
        "an invalid connector was created"
    );

    // --- a hung cluster does not block other Connectors.
    let (hung_url, accepted, _listener) = hanging_listener().await;
    create_cluster(&client, &ns, "hung", &hung_url).await;
    connectors
        .create(
            &PostParams::default(),
            &connector(
                "stuck",
                "hung",
                "FileStreamSource",
                &[("file", &input), ("topic", &topic)],
            ),
        )
        .await
        .expect("create stuck");
    eventually("the operator to call the hung cluster", WAIT, || async {
        (accepted.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await;
    let started = Instant::now();
    connectors
        .create(
            &PostParams::default(),
            &connector(
                "src2",
                "local",
                "FileStreamSource",
                &[("file", &input), ("topic", &topic)],
            ),
        )
        .await
        .expect("create src2");
    // The hung call only times out after 15 s: src2 must not wait for it.
    eventually(
        "src2 on the worker while stuck's reconcile hangs",
        Duration::from_secs(10),
        || async { worker_config(&http, &w, "src2").await.map(|_| ()) },
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(15));
    eventually("stuck Ready=False ClusterUnreachable", WAIT, || async {
        let c = connectors.get("stuck").await.ok()?;
        (ready(&c)?.1 == "ClusterUnreachable").then_some(())
    })
    .await;

    // --- deletion: from the worker; a hung cluster does not hang it.
    for name in ["src", "src2", "stuck", "bad"] {
        connectors
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete Connector");
    }
    for name in ["src", "src2", "stuck", "bad"] {
        eventually(&format!("Connector {name} gone"), WAIT, || async {
            connectors.get_opt(name).await.ok()?.is_none().then_some(())
        })
        .await;
    }
    for name in ["src", "src2"] {
        eventually(&format!("{name} deleted from the worker"), WAIT, || async {
            let (status, _) = rest_get(&http, &format!("{w}/connectors/{name}")).await?;
            (status == 404).then_some(())
        })
        .await;
    }
    assert!(
        has_event(&client, &ns, "stuck", "DeleteFailed").await,
        "no DeleteFailed event for the hung cluster"
    );

    drop(controller);
    delete_namespace(&client, &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_namespace_reference_needs_allowed_namespaces() {
    required_env("KUBECONFIG");
    required_env("KAFKA_BOOTSTRAP_SERVERS");
    let client = Client::try_default().await.expect("kube client");
    install_crds(&client).await;
    let platform = create_namespace(&client, "ferry-op-platform").await;
    let team = create_namespace(&client, "ferry-op-team").await;
    let _controller = ControllerTask::start(&client, &team, Duration::from_secs(2));
    // Nothing listens on port 1: once allowed, the connector's cluster is unreachable.
    create_cluster(&client, &platform, "shared", "http://127.0.0.1:1").await;
    let connectors: Api<Connector> = Api::namespaced(client.clone(), &team);
    let mut c = connector("c", "shared", "FileStreamSource", &[("topic", "t")]);
    c.spec.cluster_ref.namespace = Some(platform.clone());
    connectors
        .create(&PostParams::default(), &c)
        .await
        .expect("create Connector");
    let (_, _, message) = eventually("Ready=False NamespaceNotAllowed", WAIT, || async {
        let r = ready(&connectors.get("c").await.ok()?)?;
        (r.1 == "NamespaceNotAllowed").then_some(r)
    })
    .await;
    assert!(message.contains(&team), "{message}");

    let clusters: Api<ConnectCluster> = Api::namespaced(client.clone(), &platform);
    clusters
        .patch(
            "shared",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"allowedNamespaces": [team.clone()]}})),
        )
        .await
        .expect("allow team");
    eventually(
        "Ready=False ClusterUnreachable once allowed",
        WAIT,
        || async {
            let r = ready(&connectors.get("c").await.ok()?)?;
            (r.1 == "ClusterUnreachable").then_some(())
        },
    )
    .await;

    // Deleting it must not hang on the unreachable cluster.
    connectors
        .delete("c", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("Connector c gone", WAIT, || async {
        connectors.get_opt("c").await.ok()?.is_none().then_some(())
    })
    .await;
    drop(_controller);
    delete_namespace(&client, &team).await;
    delete_namespace(&client, &platform).await;
}

fn restarts(c: &Connector) -> Option<AutoRestartStatus> {
    c.status.as_ref()?.auto_restart.clone()
}

async fn event_notes(client: &Client, ns: &str, object: &str, reason: &str) -> Vec<String> {
    let api: Api<K8sEvent> = Api::namespaced(client.clone(), ns);
    let Ok(list) = api.list(&ListParams::default()).await else {
        return Vec::new();
    };
    list.items
        .into_iter()
        .filter(|e| {
            e.reason.as_deref() == Some(reason)
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(object)
        })
        .filter_map(|e| e.note)
        .collect()
}

fn with_auto_restart(mut c: Connector, enabled: bool, max_restarts: Option<i32>) -> Connector {
    c.spec.auto_restart = Some(AutoRestartSpec {
        enabled,
        max_restarts,
    });
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_task_is_restarted_with_backoff() {
    required_env("KUBECONFIG");
    required_env("KAFKA_BOOTSTRAP_SERVERS");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");
    let client = Client::try_default().await.expect("kube client");
    install_crds(&client).await;
    let ns = create_namespace(&client, "ferry-op-restart").await;
    let worker = Worker::standalone(&http).await;
    let w = worker.url.clone();
    // The production timing scaled down: 2 s doubling (instead of 10 s), healthy after 4 s.
    let settings = Settings {
        namespace: Some(ns.clone()),
        requeue_after: Duration::from_secs(1),
        rest_timeout: Duration::from_secs(5),
        cleanup_grace: Duration::from_secs(10),
        auto_restart: Timing {
            base: Duration::from_secs(2),
            max: Duration::from_secs(60),
            healthy_period: Duration::from_secs(4),
        },
    };
    let mut operator = ControllerTask::start_with(&client, settings.clone());
    let connectors: Api<Connector> = Api::namespaced(client.clone(), &ns);
    create_cluster(&client, &ns, "local", &w).await;

    // The task fails at start: its file's directory does not exist yet.
    let dir = worker.dir.path().join("later");
    let input = dir.join("input.txt").display().to_string();
    let topic = unique("ferry-op-restart");
    let config = [("file", input.as_str()), ("topic", topic.as_str())];
    for (name, enabled, max) in [
        ("flaky", true, None),
        ("limited", true, Some(1)),
        ("manual", false, None),
    ] {
        connectors
            .create(
                &PostParams::default(),
                &with_auto_restart(
                    connector(name, "local", "FileStreamSource", &config),
                    enabled,
                    max,
                ),
            )
            .await
            .expect("create Connector");
    }

    let (_, _, message) = eventually("flaky Ready=False TaskFailed", WAIT, || async {
        let r = ready(&connectors.get("flaky").await.ok()?)?;
        (r.0 == "False" && r.1 == "TaskFailed").then_some(r)
    })
    .await;
    assert!(
        message.starts_with("task 0 failed: ")
            && message.contains(&format!("could not open source file {input}"))
            && !message.contains('\n'),
        "not the trace's first line: {message:?}"
    );

    let first = eventually("flaky auto-restarted once", WAIT, || async {
        let r = restarts(&connectors.get("flaky").await.ok()?)?;
        (r.count >= 1).then_some(r)
    })
    .await;
    assert_eq!(first.count, 1);
    let t1 = first.last_restart_time.clone().expect("lastRestartTime").0;
    assert!(
        has_event(&client, &ns, "flaky", "AutoRestarted").await,
        "no AutoRestarted event"
    );

    // An operator restart neither forgets the count nor restarts early.
    drop(operator);
    operator = ControllerTask::start_with(&client, settings.clone());
    let second = eventually("flaky auto-restarted twice", WAIT, || async {
        let r = restarts(&connectors.get("flaky").await.ok()?)?;
        (r.count >= 2).then_some(r)
    })
    .await;
    assert_eq!(second.count, 2);
    let t2 = second.last_restart_time.clone().expect("lastRestartTime").0;
    // 4 s nominal (2 s doubled); times in status have whole seconds.
    assert!(
        (t2 - t1).num_seconds() >= 3,
        "second restart only {}s after the first",
        (t2 - t1).num_seconds()
    );

    // The count is recorded before the restart is asked for: wait until restart 2 was done and
    // failed again, so the cause goes away only before the third.
    eventually("the AutoRestarted event of restart 2", WAIT, || async {
        (event_notes(&client, &ns, "flaky", "AutoRestarted").await)
            .iter()
            .any(|n| n.starts_with("auto-restart 2 of connector flaky"))
            .then_some(())
    })
    .await;
    eventually("flaky's task FAILED again on the worker", WAIT, || async {
        let (_, body) = rest_get(&http, &format!("{w}/connectors/flaky/status")).await?;
        (body["tasks"][0]["state"] == "FAILED").then_some(())
    })
    .await;
    // The cause goes away: the third restart (8 s after the second) brings the task up. (Right
    // after a restart the worker may briefly report the task RUNNING before its start fails, so
    // only a Ready=True after the third restart counts.)
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(&input, "a\nb\n").expect("input file");
    let c = eventually(
        "flaky RUNNING and Ready=True after restart 3",
        WAIT,
        || async {
            let c = connectors.get("flaky").await.ok()?;
            (ready(&c)?.0 == "True" && reported_state(&c)? == "RUNNING" && restarts(&c)?.count >= 3)
                .then_some(c)
        },
    )
    .await;
    let third = restarts(&c).expect("autoRestart");
    assert_eq!(third.count, 3);
    let t3 = third.last_restart_time.clone().expect("lastRestartTime").0;
    assert!((t3 - t2).num_seconds() >= 7, "{t2} → {t3}");
    let notes = event_notes(&client, &ns, "flaky", "AutoRestarted").await;
    for n in 1..=3 {
        assert!(
            notes.iter().any(|note| note.starts_with(&format!(
                "auto-restart {n} of connector flaky (task 0 failed: "
            ))),
            "no event for restart {n}: {notes:?}"
        );
    }
    assert_eq!(
        worker_state(&http, &w, "flaky").await.as_deref(),
        Some("RUNNING")
    );

    // Healthy for the healthy period: the count goes back to 0, the last time stays.
    let reset = eventually("flaky restart count reset", WAIT, || async {
        let r = restarts(&connectors.get("flaky").await.ok()?)?;
        (r.count == 0).then_some(r)
    })
    .await;
    assert_eq!(reset.last_restart_time, third.last_restart_time);

    // maxRestarts: 1 → one restart, then it gives up (with a Warning); the file exists now, so
    // `limited` must have failed before it appeared.
    let (_, _, message) = eventually("limited gave up", WAIT, || async {
        let r = ready(&connectors.get("limited").await.ok()?)?;
        r.2.contains("gave up").then_some(r)
    })
    .await;
    assert!(
        message.contains("auto-restart gave up after 1 restart(s)"),
        "{message}"
    );
    let limited = connectors.get("limited").await.expect("get limited");
    assert_eq!(restarts(&limited).map(|r| r.count), Some(1));
    assert!(has_event(&client, &ns, "limited", "AutoRestartGaveUp").await);

    // enabled: false → never restarted, still failed.
    let manual = connectors.get("manual").await.expect("get manual");
    assert_eq!(restarts(&manual), None);
    assert_eq!(ready(&manual).map(|r| r.1), Some("TaskFailed".to_owned()));
    assert!(!has_event(&client, &ns, "manual", "AutoRestarted").await);

    for name in ["flaky", "limited", "manual"] {
        connectors
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete Connector");
    }
    for name in ["flaky", "limited", "manual"] {
        eventually(&format!("Connector {name} gone"), WAIT, || async {
            connectors.get_opt(name).await.ok()?.is_none().then_some(())
        })
        .await;
    }
    drop(operator);
    delete_namespace(&client, &ns).await;
}

fn condition(c: &Connector, type_: &str) -> Option<(String, String, String)> {
    c.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

async fn worker_offsets(http: &reqwest::Client, worker: &str, name: &str) -> Option<Value> {
    let (status, body) = rest_get(http, &format!("{worker}/connectors/{name}/offsets")).await?;
    (status == 200).then_some(body)
}

async fn annotate(api: &Api<Connector>, name: &str, key: &str, value: &str) {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {key: value}}})),
    )
    .await
    .expect("annotate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_listed_altered_and_reset_through_the_annotation() {
    required_env("KUBECONFIG");
    required_env("KAFKA_BOOTSTRAP_SERVERS");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");
    let client = Client::try_default().await.expect("kube client");
    install_crds(&client).await;
    let ns = create_namespace(&client, "ferry-op-offsets").await;
    let worker = Worker::standalone(&http).await;
    let w = worker.url.clone();
    let _controller = ControllerTask::start(&client, &ns, Duration::from_secs(5));
    let connectors: Api<Connector> = Api::namespaced(client.clone(), &ns);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    create_cluster(&client, &ns, "local", &w).await;

    let input = worker.dir.path().join("input.txt");
    std::fs::write(&input, "one\ntwo\nthree\n").expect("input file");
    let input = input.display().to_string();
    let topic = unique("ferry-op-offsets");
    let mut src = connector(
        "src",
        "local",
        "FileStreamSource",
        &[("file", &input), ("topic", &topic)],
    );
    src.spec.offsets = Some(OffsetsSpec {
        config_map: ConfigMapKeyRef {
            name: "src-offsets".into(),
            key: None,
        },
    });
    connectors
        .create(&PostParams::default(), &src)
        .await
        .expect("create Connector");
    let at = |position: u64| json!({"offsets": [{"partition": {"filename": input}, "offset": {"position": position}}]});
    // All three lines (14 bytes) read and their offsets committed.
    eventually("src offsets at position 14 on the worker", WAIT, || async {
        (worker_offsets(&http, &w, "src").await? == at(14)).then_some(())
    })
    .await;

    // --- list: the worker's offsets into the ConfigMap, the annotation removed.
    annotate(&connectors, "src", annotations::OFFSETS, "list").await;
    eventually("offsets annotation removed after list", WAIT, || async {
        let c = connectors.get("src").await.ok()?;
        (!c.annotations().contains_key(annotations::OFFSETS)).then_some(())
    })
    .await;
    let cm = config_maps
        .get("src-offsets")
        .await
        .expect("ConfigMap written");
    let text = cm
        .data
        .as_ref()
        .and_then(|d| d.get("offsets.json"))
        .expect("offsets.json key");
    let listed: Value = serde_json::from_str(text).expect("offsets.json is JSON");
    assert_eq!(listed, at(14));
    let (flag, _, message) = eventually("Offsets=True OffsetsListed", WAIT, || async {
        let r = condition(&connectors.get("src").await.ok()?, "Offsets")?;
        (r.1 == "OffsetsListed").then_some(r)
    })
    .await;
    assert_eq!(flag, "True");
    assert!(message.contains("src-offsets"), "{message}");
    assert!(has_event(&client, &ns, "src", "OffsetsListed").await);

    // --- alter while running: refused with a clear condition, the annotation stays.
    let mut data = BTreeMap::new();
    data.insert("offsets.json".to_owned(), at(4).to_string());
    config_maps
        .patch(
            "src-offsets",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": data})),
        )
        .await
        .expect("edit the ConfigMap");
    annotate(&connectors, "src", annotations::OFFSETS, "alter").await;
    let (_, _, message) = eventually("Offsets=False NotStopped", WAIT, || async {
        let r = condition(&connectors.get("src").await.ok()?, "Offsets")?;
        (r.0 == "False" && r.1 == "NotStopped").then_some(r)
    })
    .await;
    assert!(
        message.contains("while it is RUNNING") && message.contains("spec.state"),
        "{message}"
    );
    let c = connectors.get("src").await.expect("get src");
    assert_eq!(
        c.annotations()
            .get(annotations::OFFSETS)
            .map(String::as_str),
        Some("alter")
    );
    assert!(has_event(&client, &ns, "src", "NotStopped").await);
    assert_eq!(worker_offsets(&http, &w, "src").await, Some(at(14)));

    // --- stop: the pending alter is carried out.
    connectors
        .patch(
            "src",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"state": "stopped"}})),
        )
        .await
        .expect("stop");
    eventually(
        "Offsets=True OffsetsAltered, annotation removed",
        WAIT,
        || async {
            let c = connectors.get("src").await.ok()?;
            let r = condition(&c, "Offsets")?;
            (r.0 == "True"
                && r.1 == "OffsetsAltered"
                && !c.annotations().contains_key(annotations::OFFSETS))
            .then_some(())
        },
    )
    .await;
    assert_eq!(
        worker_state(&http, &w, "src").await.as_deref(),
        Some("STOPPED")
    );
    assert_eq!(worker_offsets(&http, &w, "src").await, Some(at(4)));
    assert!(has_event(&client, &ns, "src", "OffsetsAltered").await);

    // --- reset (still stopped): no offsets left.
    annotate(&connectors, "src", annotations::OFFSETS, "reset").await;
    eventually(
        "Offsets=True OffsetsReset, annotation removed",
        WAIT,
        || async {
            let c = connectors.get("src").await.ok()?;
            let r = condition(&c, "Offsets")?;
            (r.1 == "OffsetsReset" && !c.annotations().contains_key(annotations::OFFSETS))
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        worker_offsets(&http, &w, "src").await,
        Some(json!({"offsets": []}))
    );

    // --- resumed, it reads the file from the start again.
    connectors
        .patch(
            "src",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"state": "running"}})),
        )
        .await
        .expect("resume");
    eventually("src back at position 14", WAIT, || async {
        (worker_offsets(&http, &w, "src").await? == at(14)).then_some(())
    })
    .await;

    // --- an unknown operation: a Warning, the annotation removed.
    annotate(&connectors, "src", annotations::OFFSETS, "rewind").await;
    let (_, _, message) = eventually("Offsets=False InvalidAnnotation", WAIT, || async {
        let c = connectors.get("src").await.ok()?;
        let r = condition(&c, "Offsets")?;
        (r.1 == "InvalidAnnotation" && !c.annotations().contains_key(annotations::OFFSETS))
            .then_some(r)
    })
    .await;
    assert!(
        message.contains("\"rewind\" is not an offsets operation"),
        "{message}"
    );

    connectors
        .delete("src", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("Connector src gone", WAIT, || async {
        connectors
            .get_opt("src")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    drop(_controller);
    delete_namespace(&client, &ns).await;
}
