//! The ConnectCluster controller against a real Kubernetes control plane (kube-apiserver,
//! controller-manager, scheduler and kwok, whose simulated pods become Running and Ready) and a
//! real `ferry distributed` worker for external clusters. Bring them up with
//! `e2e/services up kafka kube && eval "$(e2e/services env)"`.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ferry_crds::{ConnectCluster, ConnectClusterSpec, ConnectorPlugin, MountedSource, PodTemplate};
use ferry_operator::leader::{self, LeaderElection};
use ferry_operator::{Context, Settings, cluster};
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, EnvVar, Namespace, ResourceRequirements, Service, Toleration,
};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use prometheus_client::registry::Registry;
use serde_json::json;

mod common;
use common::worker::{Worker, free_port};
use common::{eventually, install_crds, required_env, unique};

const WAIT: Duration = Duration::from_secs(90);

/// A fresh namespace, deleted on drop.
struct TestNamespace {
    name: String,
}

impl TestNamespace {
    async fn create(client: &Client, prefix: &str) -> Self {
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
        Self { name }
    }
}

impl Drop for TestNamespace {
    /// Deletes the namespace (and so everything in it) on a thread with its own runtime and
    /// client: the test's runtime may be gone by the time a spawned task would run.
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(client) = Client::try_default().await {
                    let api: Api<Namespace> = Api::all(client);
                    let _ = api.delete(&name, &DeleteParams::default()).await;
                }
            });
        })
        .join();
    }
}

/// The ConnectCluster controller in-process, watching one namespace; aborted on drop.
struct ControllerTask {
    task: tokio::task::JoinHandle<()>,
    ctx: Arc<Context>,
}

impl ControllerTask {
    fn start(client: &Client, namespace: &str) -> Self {
        let settings = Settings {
            namespace: Some(namespace.to_owned()),
            requeue_after: Duration::from_secs(1),
            rest_timeout: Duration::from_secs(3),
            cleanup_grace: Duration::from_secs(10),
            ..Settings::default()
        };
        let mut registry = Registry::default();
        let ctx = Context::new(client.clone(), settings, &mut registry).expect("context");
        Self {
            task: tokio::spawn(cluster::run(ctx.clone())),
            ctx,
        }
    }

    fn reconciles(&self) -> u64 {
        self.ctx.cluster_metrics.reconciliations.get()
    }
}

impl Drop for ControllerTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn ready(c: &ConnectCluster) -> Option<(String, String)> {
    cluster::ready_of(c.status.as_ref()).map(|(s, r, _)| (s, r))
}

fn managed_by_operator<K: Resource>(obj: &K) -> bool {
    obj.meta().managed_fields.iter().flatten().any(|m| {
        m.manager.as_deref() == Some(cluster::FIELD_MANAGER)
            && m.operation.as_deref() == Some("Apply")
    })
}

fn owned_by<K: Resource>(obj: &K, owner: &ConnectCluster) -> bool {
    obj.owner_references().iter().any(|o| {
        o.kind == "ConnectCluster"
            && o.api_version == "ferry.dev/v1alpha1"
            && Some(&o.uid) == owner.uid().as_ref()
            && o.controller == Some(true)
    })
}

async fn has_event(client: &Client, ns: &str, object: &str, reason: &str) -> bool {
    let api: Api<K8sEvent> = Api::namespaced(client.clone(), ns);
    let Ok(list) = api.list(&ListParams::default()).await else {
        return false;
    };
    list.items.iter().any(|e| {
        e.reason.as_deref() == Some(reason)
            && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(object)
            && e.regarding.as_ref().and_then(|r| r.kind.as_deref()) == Some("ConnectCluster")
    })
}

fn resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), Quantity("100m".into())),
            ("memory".to_owned(), Quantity("128Mi".into())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_owned(),
            Quantity("256Mi".into()),
        )])),
        ..ResourceRequirements::default()
    }
}

fn selector() -> BTreeMap<String, String> {
    [
        ("app.kubernetes.io/component", "connect-worker"),
        ("app.kubernetes.io/instance", "sync"),
        ("app.kubernetes.io/name", "ferry"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn sts_replicas(s: &StatefulSet) -> (Option<i32>, i32, i32, i32) {
    let st = s.status.clone().unwrap_or_default();
    (
        s.spec.as_ref().and_then(|s| s.replicas),
        st.replicas,
        st.ready_replicas.unwrap_or(0),
        st.updated_replicas.unwrap_or(0),
    )
}

fn config_hash_of(s: &StatefulSet) -> String {
    s.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(cluster::CONFIG_HASH_ANNOTATION))
        .cloned()
        .expect("config-hash annotation")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployed_cluster_objects_rollout_scale_status_and_cascade() {
    required_env("KUBECONFIG");
    let client = Client::try_default().await.expect("kube client");
    install_crds(&client).await;
    let ns = TestNamespace::create(&client, "ferry-cc").await;
    let ns = ns.name.clone().leak() as &str;
    let controller = ControllerTask::start(&client, ns);
    let clusters: Api<ConnectCluster> = Api::namespaced(client.clone(), ns);
    let stss: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), ns);

    let spec = ConnectClusterSpec {
        replicas: 2,
        image: Some("registry.example/ferry:test".into()),
        bootstrap_servers: "kafka-0.kafka:9092,kafka-1.kafka:9092".into(),
        config: BTreeMap::from([
            ("offset.flush.interval.ms".to_owned(), "1000".to_owned()),
            (
                "config.storage.replication.factor".to_owned(),
                "1".to_owned(),
            ),
        ]),
        env: vec![EnvVar {
            name: "RUST_BACKTRACE".into(),
            value: Some("1".into()),
            value_from: None,
        }],
        secrets: vec![MountedSource {
            name: "db-creds".into(),
            mount_path: None,
        }],
        log_level: Some("debug".into()),
        template: Some(PodTemplate {
            pod_labels: BTreeMap::from([("team".to_owned(), "data".to_owned())]),
            pod_annotations: BTreeMap::from([("example.com/note".to_owned(), "x".to_owned())]),
            service_account_name: Some("default".into()),
            node_selector: BTreeMap::from([("kubernetes.io/os".to_owned(), "linux".to_owned())]),
            tolerations: vec![Toleration {
                key: Some("dedicated".into()),
                operator: Some("Equal".into()),
                value: Some("connect".into()),
                effect: Some("NoSchedule".into()),
                ..Toleration::default()
            }],
            ..PodTemplate::default()
        }),
        resources: Some(resources()),
        rest_port: 8084,
        ..ConnectClusterSpec::default()
    };
    let created = clusters
        .create(&PostParams::default(), &ConnectCluster::new("sync", spec))
        .await
        .expect("create ConnectCluster");

    // --- the ConfigMap: spec.config over the operator's defaults.
    let cm = eventually("ConfigMap sync-connect-config", WAIT, || async {
        config_maps.get_opt("sync-connect-config").await.ok()?
    })
    .await;
    let properties = cm
        .data
        .as_ref()
        .and_then(|d| d.get("worker.properties"))
        .cloned()
        .expect("worker.properties");
    assert_eq!(
        properties,
        format!(
            "# Generated by ferry-operator from ConnectCluster {ns}/sync; edit the resource, not this file.\n\
             bootstrap.servers=kafka-0.kafka:9092,kafka-1.kafka:9092\n\
             config.storage.replication.factor=1\n\
             config.storage.topic=sync-configs\n\
             group.id=sync\n\
             key.converter=org.apache.kafka.connect.json.JsonConverter\n\
             listeners=http://0.0.0.0:8084\n\
             offset.flush.interval.ms=1000\n\
             offset.storage.topic=sync-offsets\n\
             rest.advertised.port=8084\n\
             status.storage.topic=sync-status\n\
             value.converter=org.apache.kafka.connect.json.JsonConverter\n"
        )
    );
    assert!(owned_by(&cm, &created) && managed_by_operator(&cm));

    // --- the StatefulSet.
    let sts = eventually("StatefulSet sync-connect", WAIT, || async {
        stss.get_opt("sync-connect").await.ok()?
    })
    .await;
    assert!(owned_by(&sts, &created) && managed_by_operator(&sts));
    let spec = sts.spec.clone().expect("sts spec");
    assert_eq!(spec.replicas, Some(2));
    assert_eq!(spec.service_name.as_deref(), Some("sync-connect"));
    assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
    assert_eq!(spec.selector.match_labels, Some(selector()));
    let meta = spec.template.metadata.clone().expect("pod metadata");
    let labels = meta.labels.expect("pod labels");
    assert_eq!(labels["team"], "data");
    assert_eq!(labels["app.kubernetes.io/instance"], "sync");
    let annotations = meta.annotations.expect("pod annotations");
    assert_eq!(annotations["example.com/note"], "x");
    assert_eq!(
        annotations[cluster::CONFIG_HASH_ANNOTATION],
        cluster::config_hash(&properties)
    );
    let pod = spec.template.spec.clone().expect("pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some("default"));
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(
        pod.node_selector,
        Some(BTreeMap::from([(
            "kubernetes.io/os".to_owned(),
            "linux".to_owned()
        )]))
    );
    assert_eq!(
        pod.tolerations.as_ref().and_then(|t| t[0].value.as_deref()),
        Some("connect")
    );
    assert_eq!(pod.containers[0].resources, Some(resources()));
    let psc = pod.security_context.clone().expect("pod securityContext");
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.run_as_user, Some(cluster::DEFAULT_USER));
    let c = &pod.containers[0];
    assert_eq!(c.name, cluster::CONTAINER);
    assert_eq!(c.image.as_deref(), Some("registry.example/ferry:test"));
    assert_eq!(c.command, Some(vec!["ferry".to_owned()]));
    assert_eq!(
        c.args,
        Some(vec![
            "distributed".to_owned(),
            "/etc/ferry/worker.properties".to_owned(),
            "--override".to_owned(),
            "rest.advertised.host.name=$(POD_NAME).sync-connect.$(POD_NAMESPACE).svc".to_owned(),
        ])
    );
    let ports = c.ports.clone().expect("ports");
    assert_eq!(
        (ports[0].name.as_deref(), ports[0].container_port),
        (Some("rest"), 8084)
    );
    for probe in [&c.startup_probe, &c.readiness_probe, &c.liveness_probe] {
        let get = probe
            .as_ref()
            .and_then(|p| p.http_get.clone())
            .expect("httpGet probe");
        assert_eq!(get.path.as_deref(), Some("/health"));
        assert_eq!(get.port, IntOrString::String("rest".into()));
    }
    let csc = c
        .security_context
        .clone()
        .expect("container securityContext");
    assert_eq!(csc.read_only_root_filesystem, Some(true));
    assert_eq!(csc.allow_privilege_escalation, Some(false));
    let env: Vec<(String, Option<String>)> = c
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect();
    assert_eq!(
        env,
        [
            ("POD_NAME".to_owned(), None),
            ("POD_NAMESPACE".to_owned(), None),
            ("FERRY_LOG".to_owned(), Some("debug".to_owned())),
            ("RUST_BACKTRACE".to_owned(), Some("1".to_owned())),
        ]
    );
    let mounts: Vec<(String, String, Option<bool>)> = c
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| (m.name.clone(), m.mount_path.clone(), m.read_only))
        .collect();
    assert_eq!(
        mounts,
        [
            ("config".to_owned(), "/etc/ferry".to_owned(), Some(true)),
            ("tmp".to_owned(), "/tmp".to_owned(), None),
            ("data".to_owned(), "/var/lib/ferry".to_owned(), None),
            (
                "secret-0".to_owned(),
                "/opt/ferry/secrets/db-creds".to_owned(),
                Some(true)
            ),
        ]
    );
    let volumes = pod.volumes.clone().expect("volumes");
    assert_eq!(
        volumes[0].config_map.as_ref().map(|c| c.name.as_str()),
        Some("sync-connect-config")
    );
    assert!(volumes[1].empty_dir.is_some() && volumes[2].empty_dir.is_some());
    assert_eq!(
        volumes[3]
            .secret
            .as_ref()
            .and_then(|s| s.secret_name.as_deref()),
        Some("db-creds")
    );

    // --- the Services.
    let headless = services
        .get("sync-connect")
        .await
        .expect("headless Service");
    assert!(owned_by(&headless, &created) && managed_by_operator(&headless));
    let hs = headless.spec.clone().expect("spec");
    assert_eq!(hs.cluster_ip.as_deref(), Some("None"));
    assert_eq!(hs.publish_not_ready_addresses, Some(true));
    assert_eq!(hs.selector, Some(selector()));
    let rest = services
        .get("sync-connect-api")
        .await
        .expect("REST Service");
    assert!(owned_by(&rest, &created));
    let rs = rest.spec.clone().expect("spec");
    assert_eq!(rs.type_.as_deref(), Some("ClusterIP"));
    assert_ne!(rs.cluster_ip.as_deref(), Some("None"));
    assert_eq!(rs.selector, Some(selector()));
    for s in [&hs, &rs] {
        let p = &s.ports.as_ref().expect("ports")[0];
        assert_eq!(
            (p.name.as_deref(), p.port, p.target_port.clone()),
            (Some("rest"), 8084, Some(IntOrString::String("rest".into())))
        );
    }

    // --- the PodDisruptionBudget.
    let pdb = pdbs.get("sync-connect").await.expect("PDB");
    assert!(owned_by(&pdb, &created) && managed_by_operator(&pdb));
    let ps = pdb.spec.clone().expect("spec");
    assert_eq!(ps.max_unavailable, Some(IntOrString::Int(1)));
    assert_eq!(ps.min_available, None);
    assert_eq!(ps.selector.and_then(|s| s.match_labels), Some(selector()));

    // --- status: kwok's pods become Ready, so the cluster does.
    let c = eventually("sync Ready=True with 2 ready workers", WAIT, || async {
        let c = clusters.get("sync").await.ok()?;
        let s = c.status.clone()?;
        (ready(&c)? == ("True".into(), "Available".into()) && s.ready_replicas == Some(2))
            .then_some(c)
    })
    .await;
    let status = c.status.clone().expect("status");
    assert_eq!(status.observed_generation, c.metadata.generation);
    assert_eq!(status.replicas, Some(2));
    assert_eq!(
        status.rest_url.as_deref(),
        Some(format!("http://sync-connect-api.{ns}.svc:8084").as_str())
    );
    assert_eq!(
        status.label_selector.as_deref(),
        Some(
            "app.kubernetes.io/component=connect-worker,app.kubernetes.io/instance=sync,app.kubernetes.io/name=ferry"
        )
    );

    eventually("an Available event about sync", WAIT, || async {
        has_event(&client, ns, "sync", "Available")
            .await
            .then_some(())
    })
    .await;

    // --- nothing changes → nothing is written: reconciles triggered by an owned object's
    // change leave the ConnectCluster and the StatefulSet untouched.
    let cluster_rv = c.resource_version();
    let sts_rv = stss
        .get("sync-connect")
        .await
        .expect("sts")
        .resource_version();
    for i in 0..3 {
        let before = controller.reconciles();
        services
            .patch(
                "sync-connect-api",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {"test/poke": i.to_string()}}})),
            )
            .await
            .expect("poke the REST Service");
        eventually("a reconcile after the poke", WAIT, || async {
            (controller.reconciles() > before).then_some(())
        })
        .await;
    }
    // One more reconcile starts only after the previous one for this object finished.
    let before = controller.reconciles();
    services
        .patch(
            "sync-connect-api",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"test/poke": "last"}}})),
        )
        .await
        .expect("poke");
    eventually("a final reconcile", WAIT, || async {
        (controller.reconciles() > before).then_some(())
    })
    .await;
    assert_eq!(
        clusters.get("sync").await.expect("get").resource_version(),
        cluster_rv,
        "status rewritten although nothing changed"
    );
    assert_eq!(
        stss.get("sync-connect")
            .await
            .expect("sts")
            .resource_version(),
        sts_rv,
        "StatefulSet rewritten although nothing changed"
    );

    // --- an owned object deleted by hand comes back (the owned-object watches reconcile).
    pdbs.delete("sync-connect", &DeleteParams::default())
        .await
        .expect("delete the PDB");
    eventually("the PDB recreated", WAIT, || async {
        let p = pdbs.get_opt("sync-connect").await.ok()??;
        (p.metadata.deletion_timestamp.is_none() && p.uid() != pdb.uid()).then_some(())
    })
    .await;

    // --- a config change rolls the workers: new hash, new ControllerRevision, all updated.
    let sts = stss.get("sync-connect").await.expect("sts");
    let old_hash = config_hash_of(&sts);
    let old_revision = sts
        .status
        .as_ref()
        .and_then(|s| s.update_revision.clone())
        .expect("updateRevision");
    clusters
        .patch(
            "sync",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"config": {"offset.flush.interval.ms": "2000"}}})),
        )
        .await
        .expect("edit spec.config");
    let rolled = eventually("the StatefulSet rolled to a new revision", WAIT, || async {
        let s = stss.get("sync-connect").await.ok()?;
        let st = s.status.clone()?;
        let done = config_hash_of(&s) != old_hash
            && st.update_revision.as_deref() != Some(old_revision.as_str())
            && st.current_revision == st.update_revision
            && st.updated_replicas == Some(2)
            && st.ready_replicas == Some(2);
        done.then_some(s)
    })
    .await;
    let cm = config_maps.get("sync-connect-config").await.expect("cm");
    let properties = cm
        .data
        .and_then(|mut d| d.remove("worker.properties"))
        .expect("props");
    assert!(
        properties.contains("offset.flush.interval.ms=2000\n"),
        "{properties}"
    );
    assert_eq!(config_hash_of(&rolled), cluster::config_hash(&properties));
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), ns);
    let revs = revisions
        .list(&ListParams::default().labels("app.kubernetes.io/instance=sync"))
        .await
        .expect("list ControllerRevisions");
    assert!(
        revs.items.len() >= 2,
        "{} ControllerRevisions",
        revs.items.len()
    );
    eventually(
        "Ready again after the rollout, at generation 2",
        WAIT,
        || async {
            let c = clusters.get("sync").await.ok()?;
            let s = c.status.clone()?;
            (ready(&c)? == ("True".into(), "Available".into())
                && s.observed_generation == c.metadata.generation
                && c.metadata.generation == Some(2))
            .then_some(())
        },
    )
    .await;

    // --- `kubectl scale` goes through the scale subresource to the StatefulSet.
    let out = Command::new("kubectl")
        .args(["scale", "connectcluster", "sync", "--replicas=3", "-n", ns])
        .output()
        .expect("run kubectl (is it on PATH?)");
    assert!(out.status.success(), "kubectl scale failed: {out:?}");
    eventually("3 workers ready after kubectl scale", WAIT, || async {
        let s = stss.get("sync-connect").await.ok()?;
        (sts_replicas(&s) == (Some(3), 3, 3, 3)).then_some(())
    })
    .await;
    eventually("status shows 3 ready replicas", WAIT, || async {
        let c = clusters.get("sync").await.ok()?;
        let s = c.status.clone()?;
        (s.replicas == Some(3) && s.ready_replicas == Some(3) && ready(&c)?.0 == "True")
            .then_some(())
    })
    .await;
    let out = Command::new("kubectl")
        .args(["get", "connectclusters", "-n", ns])
        .output()
        .expect("kubectl get");
    let text = String::from_utf8_lossy(&out.stdout);
    let header: Vec<&str> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "DESIRED", "READY", "BOOTSTRAP", "AGE"],
        "{text}"
    );
    let row: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("sync "))
        .unwrap_or_else(|| panic!("no sync row in:\n{text}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        &row[..4],
        ["sync", "3", "3", "kafka-0.kafka:9092,kafka-1.kafka:9092"],
        "{text}"
    );

    // --- deleting the ConnectCluster deletes everything it owns.
    clusters
        .delete("sync", &DeleteParams::foreground())
        .await
        .expect("delete ConnectCluster");
    eventually("owned objects garbage-collected", WAIT, || async {
        let gone = stss.get_opt("sync-connect").await.ok()?.is_none()
            && services.get_opt("sync-connect").await.ok()?.is_none()
            && services.get_opt("sync-connect-api").await.ok()?.is_none()
            && config_maps
                .get_opt("sync-connect-config")
                .await
                .ok()?
                .is_none()
            && pdbs.get_opt("sync-connect").await.ok()?.is_none()
            && clusters.get_opt("sync").await.ok()?.is_none();
        gone.then_some(())
    })
    .await;
}

/// A `ferry distributed` worker started from the properties the operator renders for a
/// ConnectCluster, with the `--override` the StatefulSet passes.
async fn distributed_worker(http: &reqwest::Client) -> Worker {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let group = unique("ferry-cc-ext");
    let mut spec_cluster = ConnectCluster::new(
        "ext",
        ConnectClusterSpec {
            bootstrap_servers: required_env("KAFKA_BOOTSTRAP_SERVERS"),
            group_id: Some(group),
            rest_port: i32::from(port),
            ..ConnectClusterSpec::default()
        },
    );
    for k in [
        "config.storage.replication.factor",
        "offset.storage.replication.factor",
        "status.storage.replication.factor",
    ] {
        spec_cluster.spec.config.insert(k.into(), "1".into());
    }
    let props = cluster::render(&spec_cluster, &cluster::worker_properties(&spec_cluster));
    Worker::spawn(
        http,
        dir,
        "distributed",
        &props,
        &["--override", "rest.advertised.host.name=127.0.0.1"],
        port,
        "/health",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_cluster_reports_plugins_and_owns_nothing() {
    required_env("KUBECONFIG");
    required_env("KAFKA_BOOTSTRAP_SERVERS");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");
    let client = Client::try_default().await.expect("kube client");
    install_crds(&client).await;
    let ns = TestNamespace::create(&client, "ferry-cc-ext").await;
    let ns = ns.name.clone().leak() as &str;
    let mut worker = distributed_worker(&http).await;
    let _controller = ControllerTask::start(&client, ns);
    let clusters: Api<ConnectCluster> = Api::namespaced(client.clone(), ns);

    // The worker joined its group: GET /health says so, as KIP-1017 shapes it.
    let health = http
        .get(format!("{}/health", worker.url))
        .send()
        .await
        .expect("GET /health");
    assert_eq!(health.status(), 200);
    assert_eq!(
        health
            .json::<serde_json::Value>()
            .await
            .expect("health JSON"),
        json!({
            "status": "healthy",
            "message": "Worker has completed startup and is ready to handle requests."
        })
    );

    let expected: Vec<ConnectorPlugin> = http
        .get(format!("{}/connector-plugins", worker.url))
        .send()
        .await
        .expect("GET /connector-plugins")
        .json()
        .await
        .expect("plugins JSON");
    assert!(
        expected
            .iter()
            .any(|p| p.class.ends_with("FileStreamSinkConnector")),
        "{expected:?}"
    );
    clusters
        .create(
            &PostParams::default(),
            &ConnectCluster::new(
                "ext",
                ConnectClusterSpec {
                    bootstrap_servers: required_env("KAFKA_BOOTSTRAP_SERVERS"),
                    external: Some(format!("{}/", worker.url)),
                    ..ConnectClusterSpec::default()
                },
            ),
        )
        .await
        .expect("create ConnectCluster");
    let c = eventually("ext Ready=True with its plugins", WAIT, || async {
        let c = clusters.get("ext").await.ok()?;
        (ready(&c)? == ("True".into(), "Reachable".into())).then_some(c)
    })
    .await;
    let status = c.status.clone().expect("status");
    assert_eq!(status.rest_url.as_deref(), Some(worker.url.as_str()));
    assert_eq!(status.connector_plugins, expected);
    assert_eq!(status.observed_generation, c.metadata.generation);
    assert_eq!((status.replicas, status.ready_replicas), (None, None));

    // Nothing deployed for an external cluster.
    let stss: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let svcs: Api<Service> = Api::namespaced(client.clone(), ns);
    assert!(
        stss.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
    assert!(
        svcs.list(&ListParams::default().labels("app.kubernetes.io/managed-by=ferry-operator"))
            .await
            .expect("list")
            .items
            .is_empty()
    );
    assert!(
        cms.get_opt("ext-connect-config")
            .await
            .expect("get")
            .is_none()
    );

    // The worker goes away: Ready=False, the plugins are kept from the last answer.
    worker.stop();
    let c = eventually("ext Ready=False Unreachable", WAIT, || async {
        let c = clusters.get("ext").await.ok()?;
        (ready(&c)? == ("False".into(), "Unreachable".into())).then_some(c)
    })
    .await;
    assert_eq!(c.status.expect("status").connector_plugins, expected);
}

/// One operator replica: the ConnectCluster controller behind the leader election.
struct Replica {
    task: tokio::task::JoinHandle<Result<(), ferry_operator::leader::LeaderError>>,
    ctx: Arc<Context>,
}

impl Replica {
    fn start(client: &Client, namespace: &str, identity: &str) -> Self {
        let settings = Settings {
            namespace: Some(namespace.to_owned()),
            requeue_after: Duration::from_secs(1),
            rest_timeout: Duration::from_secs(3),
            cleanup_grace: Duration::from_secs(10),
            ..Settings::default()
        };
        let mut registry = Registry::default();
        let ctx = Context::new(client.clone(), settings, &mut registry).expect("context");
        let election = LeaderElection {
            lease_duration: Duration::from_secs(4),
            renew_grace: Duration::from_secs(1),
            ..LeaderElection::new(namespace, identity)
        };
        let (client, c) = (client.clone(), ctx.clone());
        let task =
            tokio::spawn(
                async move { leader::while_leading(client, &election, cluster::run(c)).await },
            );
        Self { task, ctx }
    }

    fn reconciles(&self) -> u64 {
        self.ctx.cluster_metrics.reconciliations.get()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn lease_holder(client: &Client, ns: &str) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), ns);
    leases
        .get_opt("ferry-operator")
        .await
        .ok()??
        .spec?
        .holder_identity
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_operators_never_both_act() {
    required_env("KUBECONFIG");
    let client = Client::try_default().await.expect("kube client");
    install_crds(&client).await;
    let ns = TestNamespace::create(&client, "ferry-le").await;
    let ns = ns.name.clone().leak() as &str;
    let a = Replica::start(&client, ns, "replica-a");
    let b = Replica::start(&client, ns, "replica-b");
    let leader = eventually("a replica holds the Lease", WAIT, || async {
        lease_holder(&client, ns).await
    })
    .await;
    let (leading, standby) = match leader.as_str() {
        "replica-a" => (a, b),
        "replica-b" => (b, a),
        other => panic!("unexpected holder {other}"),
    };

    let clusters: Api<ConnectCluster> = Api::namespaced(client.clone(), ns);
    let stss: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    clusters
        .create(
            &PostParams::default(),
            &ConnectCluster::new(
                "le",
                ConnectClusterSpec {
                    bootstrap_servers: "kafka:9092".into(),
                    ..ConnectClusterSpec::default()
                },
            ),
        )
        .await
        .expect("create ConnectCluster");
    eventually(
        "the leader deploys the cluster and it becomes Ready",
        WAIT,
        || async {
            let c = clusters.get("le").await.ok()?;
            (ready(&c)?.0 == "True").then_some(())
        },
    )
    .await;
    // Renewals happen meanwhile (every 3 s): hold the standby's silence over several of them.
    for _ in 0..3 {
        clusters
            .patch(
                "le",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {"test/poke": unique("p")}}})),
            )
            .await
            .expect("poke");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert!(leading.reconciles() > 0);
    assert_eq!(
        standby.reconciles(),
        0,
        "the standby reconciled while not leading"
    );
    assert_eq!(
        lease_holder(&client, ns).await.as_deref(),
        Some(leader.as_str())
    );

    // The leader goes away: the standby takes the Lease and acts.
    let before = leading.reconciles();
    drop(leading);
    let other = eventually("the standby takes the Lease", WAIT, || async {
        lease_holder(&client, ns).await.filter(|h| *h != leader)
    })
    .await;
    clusters
        .patch(
            "le",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 2}})),
        )
        .await
        .expect("scale");
    eventually("the new leader scales the StatefulSet", WAIT, || async {
        let s = stss.get("le-connect").await.ok()?;
        (s.spec?.replicas == Some(2)).then_some(())
    })
    .await;
    assert!(
        standby.reconciles() > 0,
        "{other} did not act after taking over"
    );
    assert!(before > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_the_api_server_refuses_is_reported_in_status() {
    required_env("KUBECONFIG");
    let client = Client::try_default().await.expect("kube client");
    install_crds(&client).await;
    let ns = TestNamespace::create(&client, "ferry-cc-bad").await;
    let ns = ns.name.clone().leak() as &str;
    let _controller = ControllerTask::start(&client, ns);
    let clusters: Api<ConnectCluster> = Api::namespaced(client.clone(), ns);
    // Requests above limits: the CRD cannot tell, the StatefulSet validation does.
    let bad = ResourceRequirements {
        requests: Some(BTreeMap::from([("cpu".to_owned(), Quantity("2".into()))])),
        limits: Some(BTreeMap::from([("cpu".to_owned(), Quantity("1".into()))])),
        ..ResourceRequirements::default()
    };
    clusters
        .create(
            &PostParams::default(),
            &ConnectCluster::new(
                "bad",
                ConnectClusterSpec {
                    bootstrap_servers: "kafka:9092".into(),
                    resources: Some(bad),
                    ..ConnectClusterSpec::default()
                },
            ),
        )
        .await
        .expect("create ConnectCluster");
    let (_, _, message) = eventually("Ready=False ApplyFailed", WAIT, || async {
        let c = clusters.get("bad").await.ok()?;
        let r = cluster::ready_of(c.status.as_ref())?;
        (r.0 == "False" && r.1 == "ApplyFailed").then_some(r)
    })
    .await;
    assert!(
        message.contains("must be less than or equal to cpu limit"),
        "{message}"
    );
    eventually("an ApplyFailed event", WAIT, || async {
        has_event(&client, ns, "bad", "ApplyFailed")
            .await
            .then_some(())
    })
    .await;

    // Fixing the spec deploys the cluster.
    clusters
        .patch(
            "bad",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"resources": {"limits": {"cpu": "2"}}}})),
        )
        .await
        .expect("fix the spec");
    eventually("Ready=True once fixed", WAIT, || async {
        let c = clusters.get("bad").await.ok()?;
        (ready(&c)?.0 == "True").then_some(())
    })
    .await;
}
