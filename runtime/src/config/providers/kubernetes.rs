//! Strimzi's `KubernetesSecretConfigProvider`: keys of a Secret read from the API server
//! with the pod's service account (or the current context of `KUBECONFIG` outside a
//! cluster). The service account needs `get` on the Secrets it reads (see README, "Secrets
//! and config providers").
//!
//! One GET per Secret over the HTTP client the worker already has, instead of a Kubernetes
//! client library: the provider needs nothing else from the API.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use base64::Engine;
use tokio::sync::OnceCell;

use super::ConfigProvider;
use crate::config::Props;
use crate::errors::{ConnectError, Result};

/// Where Kubernetes mounts a pod's service account token and the cluster's CA.
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// How to reach the API server.
struct Endpoint {
    server: String,
    http: reqwest::Client,
    /// Read at each request: Kubernetes rotates projected service account tokens.
    token: Token,
}

enum Token {
    None,
    Fixed(String),
    File(PathBuf),
}

/// Reads `${secrets:NAMESPACE/NAME:KEY}`.
pub struct SecretProvider {
    endpoint: OnceCell<Endpoint>,
}

impl SecretProvider {
    pub fn new(_params: &Props) -> Self {
        SecretProvider {
            endpoint: OnceCell::new(),
        }
    }

    /// The endpoint, found on first use: a worker that never resolves a Secret needs no
    /// Kubernetes credentials.
    async fn endpoint(&self) -> Result<&Endpoint> {
        self.endpoint
            .get_or_try_init(|| async { discover().await })
            .await
    }
}

fn setup_error(why: impl std::fmt::Display) -> ConnectError {
    ConnectError::config(format!(
        "could not configure access to the Kubernetes API (in-cluster service account or KUBECONFIG): {why}"
    ))
}

fn client(ca_pem: Option<Vec<u8>>, insecure: bool) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30));
    if let Some(pem) = ca_pem {
        let cert = reqwest::Certificate::from_pem(&pem).map_err(setup_error)?;
        b = b.add_root_certificate(cert);
    }
    if insecure {
        b = b.danger_accept_invalid_certs(true);
    }
    b.build().map_err(setup_error)
}

async fn read(path: &Path) -> Result<Vec<u8>> {
    tokio::fs::read(path)
        .await
        .map_err(|e| setup_error(format!("could not read {}: {e}", path.display())))
}

/// In a pod: the service account; else the current context of `KUBECONFIG` (or
/// `~/.kube/config`).
async fn discover() -> Result<Endpoint> {
    let sa = Path::new(SERVICE_ACCOUNT_DIR);
    if let (Ok(host), Ok(port)) = (
        std::env::var("KUBERNETES_SERVICE_HOST"),
        std::env::var("KUBERNETES_SERVICE_PORT"),
    ) && sa.join("token").exists()
    {
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        return Ok(Endpoint {
            server: format!("https://{host}:{port}"),
            http: client(Some(read(&sa.join("ca.crt")).await?), false)?,
            token: Token::File(sa.join("token")),
        });
    }
    let path =
        match std::env::var_os("KUBECONFIG") {
            Some(v) => std::env::split_paths(&v)
                .next()
                .ok_or_else(|| setup_error("KUBECONFIG is empty"))?,
            None => PathBuf::from(std::env::var_os("HOME").ok_or_else(|| {
                setup_error("not in a pod, and neither KUBECONFIG nor HOME is set")
            })?)
            .join(".kube/config"),
        };
    let text = read(&path).await?;
    let config: kubeconfig::Config = serde_yaml::from_slice(&text)
        .map_err(|e| setup_error(format!("{} is not a kubeconfig: {e}", path.display())))?;
    let base = path.parent().unwrap_or(Path::new("."));
    config.endpoint(base).await
}

/// The parts of a kubeconfig the provider uses.
mod kubeconfig {
    use std::path::Path;

    use base64::Engine;
    use serde::Deserialize;

    use super::{Endpoint, Token, client, read, setup_error};
    use crate::errors::Result;

    #[derive(Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub struct Config {
        #[serde(default)]
        current_context: Option<String>,
        #[serde(default)]
        contexts: Vec<Named<Context>>,
        #[serde(default)]
        clusters: Vec<Named<Cluster>>,
        #[serde(default)]
        users: Vec<Named<User>>,
    }

    #[derive(Deserialize)]
    struct Named<T> {
        name: String,
        #[serde(alias = "context", alias = "cluster", alias = "user")]
        value: T,
    }

    #[derive(Deserialize)]
    struct Context {
        cluster: String,
        #[serde(default)]
        user: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "kebab-case")]
    struct Cluster {
        server: String,
        #[serde(default)]
        certificate_authority: Option<String>,
        #[serde(default)]
        certificate_authority_data: Option<String>,
        #[serde(default)]
        insecure_skip_tls_verify: bool,
    }

    #[derive(Deserialize, Default)]
    #[serde(rename_all = "kebab-case")]
    struct User {
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        token_file: Option<String>,
        #[serde(default)]
        client_certificate: Option<String>,
        #[serde(default)]
        client_certificate_data: Option<String>,
    }

    fn find<'a, T>(list: &'a [Named<T>], name: &str, what: &str) -> Result<&'a T> {
        list.iter()
            .find(|n| n.name == name)
            .map(|n| &n.value)
            .ok_or_else(|| setup_error(format!("the kubeconfig has no {what} named {name}")))
    }

    impl Config {
        pub async fn endpoint(&self, base: &Path) -> Result<Endpoint> {
            let context = match &self.current_context {
                Some(name) => find(&self.contexts, name, "context")?,
                None => self
                    .contexts
                    .first()
                    .map(|n| &n.value)
                    .ok_or_else(|| setup_error("the kubeconfig has no context"))?,
            };
            let cluster = find(&self.clusters, &context.cluster, "cluster")?;
            let user = match &context.user {
                Some(u) => find(&self.users, u, "user")?,
                None => &User::default(),
            };
            if user.client_certificate.is_some() || user.client_certificate_data.is_some() {
                return Err(setup_error(
                    "client certificate credentials are not supported; give the user a token",
                ));
            }
            let ca = match (
                &cluster.certificate_authority_data,
                &cluster.certificate_authority,
            ) {
                (Some(data), _) => Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(data.trim())
                        .map_err(|e| setup_error(format!("certificate-authority-data: {e}")))?,
                ),
                (None, Some(path)) => Some(read(&base.join(path)).await?),
                (None, None) => None,
            };
            let token = match (&user.token, &user.token_file) {
                (Some(t), _) => Token::Fixed(t.clone()),
                (None, Some(f)) => Token::File(base.join(f)),
                (None, None) => Token::None,
            };
            Ok(Endpoint {
                server: cluster.server.trim_end_matches('/').to_owned(),
                http: client(ca, cluster.insecure_skip_tls_verify)?,
                token,
            })
        }
    }
}

/// `NAMESPACE/NAME`, as Strimzi's provider requires.
fn namespace_and_name(path: &str) -> Result<(&str, &str)> {
    match path.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((ns, name))
        }
        _ => Err(ConnectError::config(format!(
            "Invalid path {path}. It has to be in format <namespace>/<secret>."
        ))),
    }
}

#[derive(serde::Deserialize)]
struct SecretBody {
    #[serde(default)]
    data: BTreeMap<String, String>,
}

#[async_trait::async_trait]
impl ConfigProvider for SecretProvider {
    async fn get(&self, path: &str, keys: &BTreeSet<String>) -> Result<BTreeMap<String, String>> {
        let (namespace, name) = namespace_and_name(path)?;
        let ep = self.endpoint().await?;
        let enc = |s: &str| crate::rest::encode_path_segment(s);
        let url = format!(
            "{}/api/v1/namespaces/{}/secrets/{}",
            ep.server,
            enc(namespace),
            enc(name)
        );
        let mut req = ep.http.get(&url);
        match &ep.token {
            Token::None => {}
            Token::Fixed(t) => req = req.bearer_auth(t),
            Token::File(f) => {
                let t = read(f).await?;
                req = req.bearer_auth(String::from_utf8_lossy(&t).trim());
            }
        }
        let resp = req.send().await.map_err(|e| {
            ConnectError::external(
                format!(
                    "could not read Secret {namespace}/{name} from {}: {e}",
                    ep.server
                ),
                true,
            )
        })?;
        let status = resp.status().as_u16();
        match status {
            200 => {}
            404 => {
                return Err(ConnectError::config(format!(
                    "Secret {name} in namespace {namespace} does not exist"
                )));
            }
            401 | 403 => {
                return Err(ConnectError::config(format!(
                    "the worker's service account may not get Secret {name} in namespace {namespace} (HTTP {status})"
                )));
            }
            _ => {
                return Err(ConnectError::external(
                    format!("could not read Secret {namespace}/{name}: HTTP {status}"),
                    true,
                ));
            }
        }
        let body: SecretBody = resp.json().await.map_err(|e| {
            ConnectError::external(
                format!("unexpected answer for Secret {namespace}/{name}: {e}"),
                true,
            )
        })?;
        let mut out = BTreeMap::new();
        for (k, v) in body.data {
            if keys.contains(&k) {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v.trim())
                    .map_err(|_| {
                        ConnectError::config(format!(
                            "key {k} of Secret {namespace}/{name} is not base64"
                        ))
                    })?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    ConnectError::config(format!(
                        "key {k} of Secret {namespace}/{name} is not UTF-8 text"
                    ))
                })?;
                out.insert(k, text);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_namespace_slash_name() {
        assert_eq!(namespace_and_name("ns/db").unwrap(), ("ns", "db"));
        for bad in ["db", "/db", "ns/", "a/b/c"] {
            assert_eq!(
                namespace_and_name(bad).unwrap_err().to_string(),
                format!("Invalid path {bad}. It has to be in format <namespace>/<secret>.")
            );
        }
    }

    #[tokio::test]
    async fn kubeconfig_current_context_with_a_token() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = "apiVersion: v1\nkind: Config\ncurrent-context: b\n\
            clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443/\n    insecure-skip-tls-verify: true\n\
            contexts:\n- name: a\n  context: {cluster: x}\n- name: b\n  context: {cluster: c, user: u}\n\
            users:\n- name: u\n  user:\n    token: abc\n";
        let config: kubeconfig::Config = serde_yaml::from_str(yaml).unwrap();
        let ep = config.endpoint(dir.path()).await.unwrap();
        assert_eq!(ep.server, "https://127.0.0.1:6443");
        assert!(matches!(ep.token, Token::Fixed(ref t) if t == "abc"));
    }
}
