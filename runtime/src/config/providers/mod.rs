//! Config providers (KIP-297, KIP-421): `${provider:path:key}` references in connector
//! configs, resolved when a connector or task starts and never stored resolved.
//!
//! Workers name their providers with `config.providers=file,env` and
//! `config.providers.NAME.class=...` (parameters under `config.providers.NAME.param.`), under
//! Kafka's and Strimzi's class names. As in Kafka Connect, a reference to a provider the
//! worker does not have is left as written; unlike Kafka Connect, a reference its provider
//! cannot resolve fails the connector or task (with an error naming the provider, path and
//! key, never a value) instead of passing the reference text on as a value.

mod directory;
mod env;
mod file;
mod kubernetes;
mod paths;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock};

use regex::Regex;

use super::Props;
use crate::errors::{ConnectError, Result};

/// Kafka's `FileConfigProvider`: `${file:/path/to.properties:key}`.
pub const FILE_CLASS: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
/// Kafka's `DirectoryConfigProvider`: `${dir:/path/to/dir:filename}`.
pub const DIRECTORY_CLASS: &str = "org.apache.kafka.common.config.provider.DirectoryConfigProvider";
/// Kafka's `EnvVarConfigProvider`: `${env:VARIABLE}`.
pub const ENV_CLASS: &str = "org.apache.kafka.common.config.provider.EnvVarConfigProvider";
/// Strimzi's Kubernetes Secret provider: `${secrets:NAMESPACE/NAME:KEY}`.
pub const KUBERNETES_SECRET_CLASS: &str = "io.strimzi.kafka.KubernetesSecretConfigProvider";

/// A source of configuration values.
#[async_trait::async_trait]
pub trait ConfigProvider: Send + Sync {
    /// The values of `keys` at `path`; keys it does not have are left out. Errors name the
    /// path and why, never a value.
    async fn get(&self, path: &str, keys: &BTreeSet<String>) -> Result<BTreeMap<String, String>>;
}

/// Kafka's `ConfigTransformer.DEFAULT_PATTERN`: `${provider:[path:]key}`.
static REFERENCE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\$\{([^}]*?):(?:([^}]*?):)?([^}]*?)\}").ok());

/// One `${provider:path:key}` reference in a value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    range: std::ops::Range<usize>,
    provider: String,
    path: String,
    key: String,
}

fn references(value: &str) -> Vec<Reference> {
    let Some(re) = REFERENCE.as_ref() else {
        return Vec::new();
    };
    re.captures_iter(value)
        .filter_map(|c| {
            let whole = c.get(0)?;
            Some(Reference {
                range: whole.range(),
                provider: c.get(1)?.as_str().to_owned(),
                path: c.get(2).map(|m| m.as_str().to_owned()).unwrap_or_default(),
                key: c.get(3)?.as_str().to_owned(),
            })
        })
        .collect()
}

/// Whether a value holds a `${provider:path:key}` reference.
pub fn has_reference(value: &str) -> bool {
    !references(value).is_empty()
}

/// Task configs as a connector generated them from its resolved config, with every key the
/// connector's raw config sets through a reference put back to that reference (Kafka's
/// `AbstractHerder.reverseTransform`): task configs are stored with references, and resolved
/// when each task starts.
pub fn reverse_transform(raw: &Props, configs: Vec<Props>) -> Vec<Props> {
    let referenced: Vec<(&String, &String)> =
        raw.iter().filter(|(_, v)| has_reference(v)).collect();
    configs
        .into_iter()
        .map(|mut config| {
            for (k, v) in &referenced {
                if let Some(slot) = config.get_mut(*k) {
                    slot.clone_from(v);
                }
            }
            config
        })
        .collect()
}

/// A provider with the name and class it was configured under.
#[derive(Clone)]
struct Named {
    class: &'static str,
    provider: Arc<dyn ConfigProvider>,
}

/// The config providers of a worker.
#[derive(Clone, Default)]
pub struct ConfigProviders {
    providers: BTreeMap<String, Named>,
}

impl std::fmt::Debug for ConfigProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.providers.iter().map(|(n, p)| (n, p.class)))
            .finish()
    }
}

impl ConfigProviders {
    /// The providers a worker's settings declare (`config.providers` and
    /// `config.providers.NAME.class` / `.param.*`).
    pub fn from_worker(settings: &Props) -> Result<Self> {
        let names = settings
            .get("config.providers")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let mut providers = BTreeMap::new();
        for name in names {
            let class_key = format!("config.providers.{name}.class");
            let class = settings.get(&class_key).map(|c| c.trim()).ok_or_else(|| {
                ConnectError::config(format!(
                    "config provider '{name}' is listed in config.providers but {class_key} is not set"
                ))
            })?;
            let params =
                super::def::with_prefix(settings, &format!("config.providers.{name}.param."));
            let (class, provider): (&'static str, Arc<dyn ConfigProvider>) = match class {
                FILE_CLASS => (FILE_CLASS, Arc::new(file::FileProvider::new(&params)?)),
                DIRECTORY_CLASS => (
                    DIRECTORY_CLASS,
                    Arc::new(directory::DirectoryProvider::new(&params)?),
                ),
                ENV_CLASS => (ENV_CLASS, Arc::new(env::EnvProvider::new(&params)?)),
                KUBERNETES_SECRET_CLASS => (
                    KUBERNETES_SECRET_CLASS,
                    Arc::new(kubernetes::SecretProvider::new(&params)),
                ),
                other => {
                    return Err(ConnectError::config(format!(
                        "Invalid value {other} for configuration {class_key}: Ferry's config providers are {FILE_CLASS}, {DIRECTORY_CLASS}, {ENV_CLASS} and {KUBERNETES_SECRET_CLASS}"
                    )));
                }
            };
            providers.insert(name, Named { class, provider });
        }
        Ok(ConfigProviders { providers })
    }

    /// The same providers plus one more (tests and embedders).
    pub fn with(mut self, name: &str, provider: Arc<dyn ConfigProvider>) -> Self {
        self.providers.insert(
            name.to_owned(),
            Named {
                class: "custom",
                provider,
            },
        );
        self
    }

    /// `config` with every reference to one of these providers replaced by its value.
    /// `whose` names the config in errors (`connector my-sink`, `task my-sink-0`).
    pub async fn resolve(&self, config: &Props, whose: &str) -> Result<Props> {
        // What to ask each provider: provider → path → keys (each (provider, path) once).
        let mut wanted: BTreeMap<&str, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for value in config.values() {
            for r in references(value) {
                if let Some((name, _)) = self.providers.get_key_value(r.provider.as_str()) {
                    wanted
                        .entry(name.as_str())
                        .or_default()
                        .entry(r.path)
                        .or_default()
                        .insert(r.key);
                }
            }
        }
        if wanted.is_empty() {
            return Ok(config.clone());
        }
        let mut found: BTreeMap<(&str, String), BTreeMap<String, String>> = BTreeMap::new();
        for (name, paths) in wanted {
            let Some(named) = self.providers.get(name) else {
                continue;
            };
            for (path, keys) in paths {
                let values = named.provider.get(&path, &keys).await.map_err(|e| {
                    ConnectError::config(format!(
                        "could not resolve the config of {whose} through config provider '{name}' ({}), path '{path}': {e}",
                        named.class
                    ))
                })?;
                found.insert((name, path), values);
            }
        }
        let mut resolved = Props::new();
        for (key, value) in config {
            let refs = references(value);
            if refs.is_empty() {
                resolved.insert(key.clone(), value.clone());
                continue;
            }
            let mut out = String::with_capacity(value.len());
            let mut at = 0;
            for r in refs {
                let Some((name, _)) = self.providers.get_key_value(r.provider.as_str()) else {
                    continue;
                };
                let v = found
                    .get(&(name.as_str(), r.path.clone()))
                    .and_then(|values| values.get(&r.key))
                    .ok_or_else(|| {
                        ConnectError::config(format!(
                            "could not resolve {} in '{key}' of {whose}: config provider '{}' has no key '{}' at path '{}'",
                            &value[r.range.clone()], r.provider, r.key, r.path
                        ))
                    })?;
                out.push_str(&value[at..r.range.start]);
                out.push_str(v);
                at = r.range.end;
            }
            out.push_str(&value[at..]);
            resolved.insert(key.clone(), out);
        }
        Ok(resolved)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;

    #[test]
    fn references_follow_kafkas_pattern() {
        let r = references("jdbc:${file:/etc/db.properties:url}?x=${env:HOME}");
        assert_eq!(
            r.iter()
                .map(|r| (r.provider.as_str(), r.path.as_str(), r.key.as_str()))
                .collect::<Vec<_>>(),
            [("file", "/etc/db.properties", "url"), ("env", "", "HOME")]
        );
        let r = references("${secrets:ns/name:password}");
        assert_eq!(
            (r[0].path.as_str(), r[0].key.as_str()),
            ("ns/name", "password")
        );
        // TimestampRouter's `${topic}` has no colon: not a reference.
        assert!(!has_reference("${topic}-${timestamp}"));
    }

    struct Fixed;

    #[async_trait::async_trait]
    impl ConfigProvider for Fixed {
        async fn get(
            &self,
            path: &str,
            keys: &BTreeSet<String>,
        ) -> Result<BTreeMap<String, String>> {
            if path == "bad" {
                return Err(ConnectError::config("no such path"));
            }
            Ok(keys
                .iter()
                .filter(|k| k.as_str() != "missing")
                .map(|k| (k.clone(), format!("{path}/{k}!")))
                .collect())
        }
    }

    #[tokio::test]
    async fn resolves_known_providers_and_leaves_others() {
        let providers = ConfigProviders::default().with("p", Arc::new(Fixed));
        let config = props(&[
            ("a", "x ${p:one:k} y ${p:two:k2}"),
            ("b", "${other:path:key}"),
            ("c", "plain"),
        ]);
        let resolved = providers.resolve(&config, "connector c1").await.unwrap();
        assert_eq!(
            resolved,
            props(&[
                ("a", "x one/k! y two/k2!"),
                ("b", "${other:path:key}"),
                ("c", "plain")
            ])
        );
    }

    #[tokio::test]
    async fn unresolvable_references_name_provider_path_and_key() {
        let providers = ConfigProviders::default().with("p", Arc::new(Fixed));
        let e = providers
            .resolve(&props(&[("a", "${p:here:missing}")]), "connector c1")
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "could not resolve ${p:here:missing} in 'a' of connector c1: config provider 'p' has no key 'missing' at path 'here'"
        );
        let e = providers
            .resolve(&props(&[("a", "${p:bad:k}")]), "task c1-0")
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "could not resolve the config of task c1-0 through config provider 'p' (custom), path 'bad': no such path"
        );
    }

    #[test]
    fn reverse_transform_restores_references() {
        let raw = props(&[("file", "${dir:/s:f}"), ("topic", "t")]);
        let tasks = vec![props(&[
            ("file", "/secret/in.txt"),
            ("topic", "t"),
            ("x", "1"),
        ])];
        assert_eq!(
            reverse_transform(&raw, tasks),
            vec![props(&[
                ("file", "${dir:/s:f}"),
                ("topic", "t"),
                ("x", "1")
            ])]
        );
    }

    #[test]
    fn workers_declare_providers_by_kafka_class_name() {
        let p = ConfigProviders::from_worker(&props(&[
            ("config.providers", "file, env,dir"),
            ("config.providers.file.class", FILE_CLASS),
            ("config.providers.env.class", ENV_CLASS),
            ("config.providers.dir.class", DIRECTORY_CLASS),
        ]))
        .unwrap();
        assert_eq!(
            p.providers.keys().map(String::as_str).collect::<Vec<_>>(),
            ["dir", "env", "file"]
        );
        let e = ConfigProviders::from_worker(&props(&[
            ("config.providers", "vault"),
            ("config.providers.vault.class", "com.example.Vault"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                "Invalid value com.example.Vault for configuration config.providers.vault.class"
            ),
            "{e}"
        );
        let e = ConfigProviders::from_worker(&props(&[("config.providers", "file")]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "config provider 'file' is listed in config.providers but config.providers.file.class is not set"
        );
    }
}
