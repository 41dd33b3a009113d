//! The Helm chart (`charts/ferry-operator`) and the Kubernetes examples (`examples/kubernetes`)
//! against a real API server: `helm lint`, `helm template` for the default values and for
//! replicas=2 + a watched namespace + the ServiceMonitor, every rendered object applied with
//! `kubectl apply --dry-run=server`, the RBAC rules pinned to what the operator calls, and every
//! Kubernetes example applied the same way after the CRDs are installed.
//!
//! Needs `e2e/services up kube helm hadolint && eval "$(e2e/services env)"` (helm, hadolint and
//! kubectl on PATH, KUBECONFIG set).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use common::{install_crds, required_env, unique};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn chart_dir() -> PathBuf {
    workspace().join("charts/ferry-operator")
}

/// Runs `program args`, feeding `stdin`; panics with its output when it fails.
fn run(program: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program}: {e}; run `e2e/services up kube helm hadolint && eval \"$(e2e/services env)\"` first"
            )
        });
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `helm template` of the chart in `namespace` with `--set` values, CRDs included.
fn render(namespace: &str, set: &[String]) -> String {
    let chart = chart_dir();
    let mut args = vec![
        "template",
        "ferry",
        chart.to_str().expect("UTF-8 path"),
        "--namespace",
        namespace,
        "--include-crds",
    ];
    for s in set {
        args.extend(["--set", s.as_str()]);
    }
    run("helm", &args, None)
}

/// The YAML documents of `text` as JSON values (empty documents dropped).
fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).expect("YAML document"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found = find(docs, kind);
    assert_eq!(found.len(), 1, "expected one {kind}, found {}", found.len());
    found[0]
}

/// `kubectl apply --dry-run=server` of `yaml`; returns kubectl's lines ("kind/name created
/// (server dry run)"), each checked to be a dry-run outcome.
fn dry_run_apply(yaml: &str, namespace: Option<&str>) -> Vec<String> {
    let mut args = vec!["apply", "--dry-run=server", "-f", "-"];
    if let Some(ns) = namespace {
        args.extend(["--namespace", ns]);
    }
    let out = run("kubectl", &args, Some(yaml));
    let lines: Vec<String> = out.lines().map(str::to_owned).collect();
    for line in &lines {
        assert!(
            line.ends_with("(server dry run)"),
            "unexpected kubectl output: {line}"
        );
    }
    lines
}

/// A namespace made with kubectl, deleted on drop.
struct TestNamespace(String);

impl TestNamespace {
    fn create(prefix: &str) -> Self {
        let name = unique(prefix);
        run("kubectl", &["create", "namespace", &name], None);
        TestNamespace(name)
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let _ = Command::new("kubectl")
            .args(["delete", "namespace", &self.0, "--wait=false"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

async fn crds_installed() {
    required_env("KUBECONFIG");
    let client = kube::Client::try_default().await.expect("kube client");
    install_crds(&client).await;
}

/// A minimal ServiceMonitor CRD (any spec accepted) when the real one is absent, so the chart's
/// ServiceMonitor goes through the same dry run as the rest; the fields are checked in Rust.
fn ensure_service_monitor_crd() {
    let present = Command::new("kubectl")
        .args(["get", "crd", "servicemonitors.monitoring.coreos.com"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("kubectl")
        .success();
    if present {
        return;
    }
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
        "spec": {
            "group": "monitoring.coreos.com",
            "scope": "Namespaced",
            "names": {"plural": "servicemonitors", "singular": "servicemonitor",
                      "kind": "ServiceMonitor", "listKind": "ServiceMonitorList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                }}}
            }]
        }
    });
    run(
        "kubectl",
        &["apply", "--server-side", "-f", "-"],
        Some(&crd.to_string()),
    );
    run(
        "kubectl",
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/servicemonitors.monitoring.coreos.com",
        ],
        None,
    );
}

/// Rules as (apiGroup, resource, resourceNames, sorted verbs), order-free.
fn rules(role: &Value) -> BTreeSet<(String, String, String, Vec<String>)> {
    let mut out = BTreeSet::new();
    for rule in role["rules"].as_array().expect("rules") {
        let strings = |key: &str| -> Vec<String> {
            rule[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().expect("string").to_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut verbs = strings("verbs");
        verbs.sort();
        for group in strings("apiGroups") {
            for resource in strings("resources") {
                out.insert((
                    group.clone(),
                    resource,
                    strings("resourceNames").join(","),
                    verbs.clone(),
                ));
            }
        }
    }
    out
}

/// What `operator/src` calls, resource by resource (see the comment in templates/rbac.yaml). A
/// new API call in the operator must be added here and to the chart.
fn expected_operator_rules() -> BTreeSet<(String, String, String, Vec<String>)> {
    let apply = ["create", "get", "list", "patch", "watch"];
    let rows: [(&str, &str, &[&str]); 10] = [
        (
            "ferry.dev",
            "connectors",
            &["get", "list", "patch", "watch"],
        ),
        ("ferry.dev", "connectors/status", &["patch"]),
        ("ferry.dev", "connectclusters", &["get", "list", "watch"]),
        ("ferry.dev", "connectclusters/status", &["patch"]),
        ("ferry.dev", "connectclusters/finalizers", &["update"]),
        ("apps", "statefulsets", &apply),
        ("", "services", &apply),
        ("", "configmaps", &apply),
        ("policy", "poddisruptionbudgets", &apply),
        ("events.k8s.io", "events", &["create", "patch"]),
    ];
    rows.iter()
        .map(|(g, r, v)| {
            (
                (*g).to_owned(),
                (*r).to_owned(),
                String::new(),
                v.iter().map(|s| (*s).to_owned()).collect(),
            )
        })
        .collect()
}

fn container(docs: &[Value]) -> &Value {
    let deployment = one(docs, "Deployment");
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 1);
    &containers[0]
}

fn args(docs: &[Value]) -> Vec<String> {
    container(docs)["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("arg").to_owned())
        .collect()
}

#[test]
fn chart_crds_are_the_generated_crds() {
    let generated = std::fs::read_to_string(workspace().join("crds/ferry-crds.yaml"))
        .expect("crds/ferry-crds.yaml");
    let in_chart = std::fs::read_to_string(chart_dir().join("crds/ferry-crds.yaml"))
        .expect("charts/ferry-operator/crds/ferry-crds.yaml");
    assert!(
        generated == in_chart,
        "charts/ferry-operator/crds/ferry-crds.yaml differs from crds/ferry-crds.yaml; copy it:\n\n    \
         cp crds/ferry-crds.yaml charts/ferry-operator/crds/ferry-crds.yaml\n"
    );
}

#[test]
fn chart_version_follows_the_operator() {
    let chart: Value = serde_yaml::from_str(
        &std::fs::read_to_string(chart_dir().join("Chart.yaml")).expect("Chart.yaml"),
    )
    .expect("Chart.yaml parses");
    assert_eq!(chart["appVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(chart["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn helm_lint_is_clean() {
    let chart = chart_dir();
    let chart = chart.to_str().expect("UTF-8 path");
    for set in [
        "replicas=1",
        "replicas=2,watchNamespace=apps,serviceMonitor.enabled=true,logFormat=json",
    ] {
        let out = run("helm", &["lint", "--strict", chart, "--set", set], None);
        assert!(out.contains("0 chart(s) failed"), "{out}");
        assert!(!out.contains("[WARNING]"), "{out}");
    }
}

#[tokio::test]
async fn default_values_render_and_apply() {
    crds_installed().await;
    let ns = TestNamespace::create("ferry-chart");
    let yaml = render(&ns.0, &[]);
    let docs = documents(&yaml);

    let kinds: Vec<&str> = docs
        .iter()
        .map(|d| d["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        [
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Service",
            "Deployment"
        ]
    );
    let applied = dry_run_apply(&yaml, None);
    assert_eq!(applied.len(), docs.len(), "{applied:?}");

    // One replica: no leader election, no Lease permissions, never two operators at once.
    assert_eq!(
        args(&docs),
        ["run", "--port=8080", "--leader-election=false"]
    );
    let deployment = one(&docs, "Deployment");
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    assert_eq!(deployment["spec"]["replicas"], 1);
    let c = container(&docs);
    assert_eq!(c["image"], "ghcr.io/ferry-dev/ferry-operator:0.1.0");
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["serviceAccountName"], "ferry-ferry-operator");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/health");
    let env: BTreeMap<&str, &Value> = c["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| (e["name"].as_str().expect("name"), e))
        .collect();
    assert_eq!(env["RUST_LOG"]["value"], "info");
    assert_eq!(
        env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );

    let binding = one(&docs, "ClusterRoleBinding");
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "ferry-ferry-operator", "namespace": ns.0}])
    );
    assert!(find(&docs, "Role").is_empty());
    assert!(find(&docs, "ServiceMonitor").is_empty());
}

#[test]
fn cluster_role_rules_are_exactly_what_the_operator_uses() {
    let docs = documents(&render("ferry-system", &[]));
    let role = one(&docs, "ClusterRole");
    assert_eq!(rules(role), expected_operator_rules());
    // No access to Secrets or Pods: Secrets are mounted by name only.
    let resources: Vec<String> = rules(role).into_iter().map(|r| r.1).collect();
    assert!(!resources.iter().any(|r| r == "secrets" || r == "pods"));
}

#[tokio::test]
async fn two_replicas_one_namespace_and_service_monitor_render_and_apply() {
    crds_installed().await;
    ensure_service_monitor_crd();
    let release_ns = TestNamespace::create("ferry-chart-op");
    let watched = TestNamespace::create("ferry-chart-apps");
    let set = [
        "replicas=2".to_owned(),
        format!("watchNamespace={}", watched.0),
        "serviceMonitor.enabled=true".to_owned(),
        "serviceMonitor.labels.release=prometheus".to_owned(),
        "logLevel=debug".to_owned(),
        "image.tag=1.2.3".to_owned(),
    ];
    let yaml = render(&release_ns.0, &set);
    let docs = documents(&yaml);
    let applied = dry_run_apply(&yaml, None);
    assert_eq!(applied.len(), docs.len(), "{applied:?}");
    assert!(
        applied
            .iter()
            .any(|l| l.starts_with("servicemonitor.monitoring.coreos.com/ferry-ferry-operator")),
        "{applied:?}"
    );

    // Leader election over a Lease named after the release, in the release namespace.
    assert_eq!(
        args(&docs),
        [
            "run",
            "--port=8080",
            "--leader-election=true",
            "--lease-name=ferry-ferry-operator",
            &format!("--namespace={}", watched.0),
        ]
    );
    let deployment = one(&docs, "Deployment");
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        container(&docs)["image"],
        "ghcr.io/ferry-dev/ferry-operator:1.2.3"
    );

    // A Role in the watched namespace instead of a ClusterRole, with the same rules.
    assert!(find(&docs, "ClusterRole").is_empty());
    assert!(find(&docs, "ClusterRoleBinding").is_empty());
    let roles = find(&docs, "Role");
    assert_eq!(roles.len(), 2);
    let watched_role = roles
        .iter()
        .find(|r| r["metadata"]["namespace"] == watched.0.as_str())
        .expect("Role in the watched namespace");
    assert_eq!(rules(watched_role), expected_operator_rules());
    let lease_role = roles
        .iter()
        .find(|r| r["metadata"]["namespace"] == release_ns.0.as_str())
        .expect("leader-election Role in the release namespace");
    let lease_rule = |names: &str, verbs: &[&str]| {
        (
            "coordination.k8s.io".to_owned(),
            "leases".to_owned(),
            names.to_owned(),
            verbs.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        rules(lease_role),
        BTreeSet::from([
            lease_rule("ferry-ferry-operator", &["get", "patch"]),
            lease_rule("", &["create"]),
        ])
    );
    for binding in find(&docs, "RoleBinding") {
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "ServiceAccount", "name": "ferry-ferry-operator", "namespace": release_ns.0}])
        );
    }

    // The ServiceMonitor scrapes the metrics Service's port, which targets the container's.
    let monitor = one(&docs, "ServiceMonitor");
    let service = one(&docs, "Service");
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
    for (key, value) in monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("matchLabels")
    {
        assert_eq!(&service["metadata"]["labels"][key], value, "label {key}");
    }
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    assert_eq!(service["spec"]["ports"][0]["name"], "metrics");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "metrics");
    assert_eq!(container(&docs)["ports"][0]["name"], "metrics");
    assert_eq!(container(&docs)["ports"][0]["containerPort"], 8080);
}

/// The server refuses what it should: a dry run is not a rubber stamp (a Connector without its
/// required clusterRef, and with a reserved key in spec.config).
#[tokio::test]
async fn dry_run_refuses_an_invalid_connector() {
    crds_installed().await;
    let ns = TestNamespace::create("ferry-examples-bad");
    let refused = |manifest: &str| {
        let out = Command::new("kubectl")
            .args(["apply", "--dry-run=server", "-f", "-", "--namespace", &ns.0])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin
                    .take()
                    .expect("stdin")
                    .write_all(manifest.as_bytes())?;
                c.wait_with_output()
            })
            .expect("kubectl");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "accepted: {stderr}");
        stderr
    };
    // No clusterRef: the schema's required field.
    let stderr = refused(
        "apiVersion: ferry.dev/v1alpha1\nkind: Connector\nmetadata:\n  name: bad\n\
         spec:\n  class: FileStreamSource\n  config:\n    topic: t\n",
    );
    assert!(
        stderr.contains("spec.clusterRef: Required value"),
        "{stderr}"
    );
    // A key the spec owns, in spec.config: the CEL rule's message.
    let stderr = refused(
        "apiVersion: ferry.dev/v1alpha1\nkind: Connector\nmetadata:\n  name: bad\n\
         spec:\n  clusterRef:\n    name: c\n  class: FileStreamSource\n  config:\n    tasks.max: \"2\"\n",
    );
    assert!(
        stderr.contains(
            "spec.config must not contain 'name', 'connector.class' or 'tasks.max': they come \
             from metadata.name, spec.class and spec.tasksMax"
        ),
        "{stderr}"
    );
}

/// Every YAML file in examples/kubernetes/ is accepted by the API server with the CRDs
/// installed (one namespace per file; the files name none).
#[tokio::test]
async fn kubernetes_examples_apply() {
    crds_installed().await;
    let dir = workspace().join("examples/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/kubernetes")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "connect-cluster.yaml",
            "directory-config-provider.yaml",
            "external-cluster.yaml",
            "filestream.yaml",
            "mysql-to-elasticsearch.yaml"
        ],
        "a new file in examples/kubernetes/: add it here (it is applied below)"
    );
    let ns = TestNamespace::create("ferry-examples");
    let mut applied = Vec::new();
    for file in &files {
        let yaml = std::fs::read_to_string(file).expect("read example");
        for doc in documents(&yaml) {
            assert!(
                doc["metadata"]["namespace"].is_null(),
                "{}: examples name no namespace",
                file.display()
            );
        }
        applied.extend(dry_run_apply(&yaml, Some(&ns.0)));
    }
    let objects: Vec<&str> = applied
        .iter()
        .map(|l| l.split_whitespace().next().expect("object"))
        .collect();
    assert_eq!(
        objects,
        [
            "connectcluster.ferry.dev/connect",
            "serviceaccount/ferry-connect",
            "role.rbac.authorization.k8s.io/ferry-connect-secrets",
            "rolebinding.rbac.authorization.k8s.io/ferry-connect-secrets",
            "connector.ferry.dev/jdbc-source-mysql-dir",
            "connectcluster.ferry.dev/legacy-connect",
            "connector.ferry.dev/local-file-source",
            "connector.ferry.dev/local-file-sink",
            "secret/mysql-credentials",
            "connector.ferry.dev/jdbc-source-mysql-sample-01",
            "connector.ferry.dev/es-sink-mysql-sampledata-01",
        ]
    );
}

/// The Dockerfiles lint clean and build what the chart and the CRDs default to: distroless
/// final stages running as non-root, images named as `values.yaml` and `spec.image` expect.
#[test]
fn dockerfiles_lint_clean_and_match_the_default_images() {
    let root = workspace();
    let dockerfiles = [
        (
            "runtime/Dockerfile",
            ferry_crds::connect_cluster::DEFAULT_IMAGE_REPOSITORY,
            "/usr/local/bin/ferry",
        ),
        (
            "operator/Dockerfile",
            "ghcr.io/ferry-dev/ferry-operator",
            "/usr/local/bin/ferry-operator",
        ),
    ];
    let paths: Vec<String> = dockerfiles
        .iter()
        .map(|(f, _, _)| root.join(f).to_string_lossy().into_owned())
        .collect();
    let args: Vec<&str> = paths.iter().map(String::as_str).collect();
    run("hadolint", &args, None);

    for (file, image, binary) in dockerfiles {
        let text = std::fs::read_to_string(root.join(file)).expect("Dockerfile");
        assert!(
            text.contains(&format!("{image}:<version>")),
            "{file} does not name {image}"
        );
        let last_stage = text.rsplit("\nFROM ").next().expect("a final stage");
        assert!(
            last_stage.starts_with("gcr.io/distroless/cc-debian12:nonroot"),
            "{file}: final stage {last_stage:.60}"
        );
        assert!(
            last_stage.contains("USER 65532:65532"),
            "{file}: not non-root"
        );
        assert!(
            last_stage.contains(&format!("ENTRYPOINT [\"{binary}\"]")),
            "{file}: entrypoint"
        );
        assert!(text.contains("cargo build --release --locked"), "{file}");
    }
    let values: Value = serde_yaml::from_str(
        &std::fs::read_to_string(chart_dir().join("values.yaml")).expect("values.yaml"),
    )
    .expect("values.yaml parses");
    assert_eq!(
        values["image"]["repository"],
        "ghcr.io/ferry-dev/ferry-operator"
    );
}

/// The chart's RBAC is enough for the operator: the controllers run as the chart's service
/// account (impersonated), with leader election, watching one namespace, and create a
/// ConnectCluster's objects, write both kinds' status, add the Connector finalizer and take the
/// Lease — any call the rules do not allow would stop one of these.
#[tokio::test]
async fn the_operator_runs_with_only_the_charts_rbac() {
    crds_installed().await;
    let release = TestNamespace::create("ferry-rbac-op");
    let watched = TestNamespace::create("ferry-rbac-apps");
    let set = [
        "replicas=2".to_owned(),
        format!("watchNamespace={}", watched.0),
    ];
    let docs = documents(&render(&release.0, &set));
    let rbac: Vec<&Value> = docs
        .iter()
        .filter(|d| {
            matches!(
                d["kind"].as_str(),
                Some("ServiceAccount" | "Role" | "RoleBinding")
            )
        })
        .collect();
    assert_eq!(rbac.len(), 5);
    let list = json!({"apiVersion": "v1", "kind": "List", "items": rbac});
    run("kubectl", &["apply", "-f", "-"], Some(&list.to_string()));
    let account = format!("system:serviceaccount:{}:ferry-ferry-operator", release.0);
    let can = |verb: &str, resource: &str| {
        Command::new("kubectl")
            .args([
                "auth", "can-i", verb, resource, "--as", &account, "-n", &watched.0,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("kubectl auth can-i")
            .success()
    };
    assert!(can("patch", "connectors.ferry.dev"));
    assert!(!can("get", "secrets"), "the operator must not read Secrets");
    assert!(!can("list", "pods"));

    let mut config = kube::Config::infer().await.expect("kubeconfig");
    config.auth_info.impersonate = Some(account.clone());
    let client = kube::Client::try_from(config).expect("impersonating client");
    let settings = ferry_operator::Settings {
        namespace: Some(watched.0.clone()),
        requeue_after: std::time::Duration::from_secs(1),
        ..ferry_operator::Settings::default()
    };
    let election = ferry_operator::leader::LeaderElection {
        lease_name: "ferry-ferry-operator".into(),
        ..ferry_operator::leader::LeaderElection::new(release.0.clone(), "chart-test")
    };
    let operator = tokio::spawn(ferry_operator::run(
        client,
        settings,
        "127.0.0.1:0".parse().expect("address"),
        Some(election),
    ));

    let objects = "apiVersion: ferry.dev/v1alpha1\nkind: ConnectCluster\nmetadata:\n  name: rbac\n\
                   spec:\n  bootstrapServers: kafka:9092\n---\n\
                   apiVersion: ferry.dev/v1alpha1\nkind: ConnectCluster\nmetadata:\n  name: gone\n\
                   spec:\n  bootstrapServers: kafka:9092\n  external: http://127.0.0.1:9\n---\n\
                   apiVersion: ferry.dev/v1alpha1\nkind: Connector\nmetadata:\n  name: rbac\n\
                   spec:\n  clusterRef:\n    name: gone\n  class: FileStreamSource\n  config:\n    topic: t\n";
    run(
        "kubectl",
        &["apply", "-f", "-", "--namespace", &watched.0],
        Some(objects),
    );
    let get = |what: &str, path: &str| -> String {
        Command::new("kubectl")
            .args([
                "get",
                what,
                "-n",
                &watched.0,
                "-o",
                &format!("jsonpath={path}"),
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    common::eventually(
        "the operator, as its service account, deploys and reports",
        std::time::Duration::from_secs(90),
        || async {
            assert!(!operator.is_finished(), "the operator stopped");
            let deployed = get("statefulset/rbac-connect", "{.metadata.name}") == "rbac-connect"
                && get("poddisruptionbudget/rbac-connect", "{.metadata.name}") == "rbac-connect";
            let cluster_status = get(
                "connectcluster/rbac",
                "{.status.conditions[?(@.type==\"Ready\")].status}",
            );
            let connector_reason = get(
                "connector/rbac",
                "{.status.conditions[?(@.type==\"Ready\")].reason}",
            );
            let finalizer = get("connector/rbac", "{.metadata.finalizers[0]}");
            let lease = Command::new("kubectl")
                .args([
                    "get",
                    "lease",
                    "ferry-ferry-operator",
                    "-n",
                    &release.0,
                    "-o",
                    "jsonpath={.spec.holderIdentity}",
                ])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            (deployed
                && !cluster_status.is_empty()
                && connector_reason == "ClusterUnreachable"
                && finalizer == "ferry.dev/connector"
                && lease == "chart-test")
                .then_some(())
        },
    )
    .await;
    operator.abort();
    // Let the namespaces go without the finalizer holding the Connector.
    let _ = Command::new("kubectl")
        .args([
            "patch",
            "connector/rbac",
            "-n",
            &watched.0,
            "--type",
            "merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ])
        .output();
}
