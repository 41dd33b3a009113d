//! The client side of `ferry`: subcommands that drive a worker through its REST API
//! (`--url`, default `http://localhost:8083`), like Confluent's `confluent load NAME -d FILE`.
//!
//! Tables for people by default, `-o json` (the REST answers as they are) for scripts; a
//! failed call exits non-zero with the REST error's message.

mod client;
mod table;

use std::path::PathBuf;

use serde_json::{Value, json};

use self::client::Client;
use self::table::Table;
use crate::config::files::load_connector_config;

/// How results are printed.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Aligned columns.
    Table,
    /// The worker's JSON answer.
    Json,
}

/// Where the worker is and how to print: shared by every client subcommand.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// The worker's REST URL.
    #[arg(long, env = "FERRY_URL", default_value = "http://localhost:8083")]
    pub url: String,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: Output,
}

/// The client subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ClientCommand {
    /// Create or update connector NAME from a config file (.properties or JSON).
    Load {
        name: String,
        /// The connector config file.
        #[arg(short = 'd', long = "config")]
        file: PathBuf,
        #[command(flatten)]
        target: Target,
    },
    /// List the connectors with their state.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Show a connector's and its tasks' state.
    Status {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Show a connector's config.
    Config {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Pause a connector and its tasks.
    Pause {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Resume a paused or stopped connector.
    Resume {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Stop a connector (its tasks are shut down, its config kept).
    Stop {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Restart a connector (and, with --include-tasks, its tasks).
    Restart {
        name: String,
        /// Restart the tasks too.
        #[arg(long)]
        include_tasks: bool,
        /// Only what has failed.
        #[arg(long)]
        only_failed: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Delete a connector.
    Delete {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// List the installed plugins (connectors and converters).
    Plugins {
        #[command(flatten)]
        target: Target,
    },
    /// Validate a config file for a connector class.
    Validate {
        class: String,
        /// The connector config file.
        #[arg(short = 'd', long = "config")]
        file: PathBuf,
        #[command(flatten)]
        target: Target,
    },
}

/// Percent-encodes a path segment (connector names may hold spaces, `/`...).
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The first line of a task trace, for tables.
fn first_line(v: &Value) -> String {
    text(v).lines().next().unwrap_or("").to_owned()
}

fn status_table(status: &Value) -> String {
    let mut out = String::new();
    let mut t = Table::new(&["CONNECTOR", "TYPE", "STATE", "WORKER"]);
    t.row(vec![
        text(&status["name"]),
        text(&status["type"]),
        text(&status["connector"]["state"]),
        text(&status["connector"]["worker_id"]),
    ]);
    out.push_str(&t.render());
    let mut tasks = Table::new(&["TASK", "STATE", "WORKER", "TRACE"]);
    for task in status["tasks"].as_array().into_iter().flatten() {
        tasks.row(vec![
            text(&task["id"]),
            text(&task["state"]),
            text(&task["worker_id"]),
            first_line(&task["trace"]),
        ]);
    }
    out.push('\n');
    out.push_str(&tasks.render());
    out
}

fn config_table(config: &Value) -> String {
    let mut t = Table::new(&["KEY", "VALUE"]);
    if let Some(o) = config.as_object() {
        let mut keys: Vec<&String> = o.keys().collect();
        keys.sort();
        for k in keys {
            t.row(vec![k.clone(), text(&o[k])]);
        }
    }
    t.render()
}

fn done(target: &Target, what: &str, name: &str, body: Option<Value>) -> String {
    match target.output {
        Output::Json => body
            .unwrap_or_else(|| json!({ "name": name, "result": what }))
            .to_string(),
        Output::Table => format!("{what} {name}"),
    }
}

/// Runs one client subcommand; what to print on success, or the error to report.
pub async fn run(cmd: ClientCommand) -> anyhow::Result<String> {
    Ok(match cmd {
        ClientCommand::Load { name, file, target } => {
            let loaded = load_connector_config(&file)?;
            let mut config = loaded.config;
            config.insert("name".into(), name.clone());
            let c = Client::new(&target.url)?;
            let (status, body) = c
                .call(
                    reqwest::Method::PUT,
                    &format!("/connectors/{}/config", seg(&name)),
                    Some(json!(config)),
                )
                .await?;
            match target.output {
                Output::Json => body.to_string(),
                Output::Table => {
                    let verb = if status == 201 { "Created" } else { "Updated" };
                    format!(
                        "{verb} connector {name} ({} tasks)\n\n{}",
                        body["tasks"].as_array().map_or(0, Vec::len),
                        config_table(&body["config"])
                    )
                }
            }
        }
        ClientCommand::List { target } => {
            let c = Client::new(&target.url)?;
            let (_, body) = c
                .call(reqwest::Method::GET, "/connectors?expand=status", None)
                .await?;
            match target.output {
                Output::Json => body.to_string(),
                Output::Table => {
                    let mut t = Table::new(&["NAME", "TYPE", "STATE", "TASKS"]);
                    let mut names: Vec<&String> = body
                        .as_object()
                        .map(|o| o.keys().collect())
                        .unwrap_or_default();
                    names.sort();
                    for n in names {
                        let s = &body[n]["status"];
                        let tasks = s["tasks"].as_array().cloned().unwrap_or_default();
                        let running = tasks.iter().filter(|t| t["state"] == "RUNNING").count();
                        t.row(vec![
                            n.clone(),
                            text(&s["type"]),
                            text(&s["connector"]["state"]),
                            format!("{running}/{} running", tasks.len()),
                        ]);
                    }
                    t.render()
                }
            }
        }
        ClientCommand::Status { name, target } => {
            let c = Client::new(&target.url)?;
            let (_, body) = c
                .call(
                    reqwest::Method::GET,
                    &format!("/connectors/{}/status", seg(&name)),
                    None,
                )
                .await?;
            match target.output {
                Output::Json => body.to_string(),
                Output::Table => status_table(&body),
            }
        }
        ClientCommand::Config { name, target } => {
            let c = Client::new(&target.url)?;
            let (_, body) = c
                .call(
                    reqwest::Method::GET,
                    &format!("/connectors/{}/config", seg(&name)),
                    None,
                )
                .await?;
            match target.output {
                Output::Json => body.to_string(),
                Output::Table => config_table(&body),
            }
        }
        ClientCommand::Pause { name, target } => {
            state_change(&target, &name, "pause", "Paused").await?
        }
        ClientCommand::Resume { name, target } => {
            state_change(&target, &name, "resume", "Resumed").await?
        }
        ClientCommand::Stop { name, target } => {
            state_change(&target, &name, "stop", "Stopped").await?
        }
        ClientCommand::Restart {
            name,
            include_tasks,
            only_failed,
            target,
        } => {
            let c = Client::new(&target.url)?;
            let (_, body) = c
                .call(
                    reqwest::Method::POST,
                    &format!(
                        "/connectors/{}/restart?includeTasks={include_tasks}&onlyFailed={only_failed}",
                        seg(&name)
                    ),
                    None,
                )
                .await?;
            match (&body, target.output) {
                (Value::Null, _) => done(&target, "Restarted", &name, None),
                (_, Output::Json) => body.to_string(),
                (_, Output::Table) => format!("Restarting {name}\n\n{}", status_table(&body)),
            }
        }
        ClientCommand::Delete { name, target } => {
            let c = Client::new(&target.url)?;
            c.call(
                reqwest::Method::DELETE,
                &format!("/connectors/{}", seg(&name)),
                None,
            )
            .await?;
            done(&target, "Deleted", &name, None)
        }
        ClientCommand::Plugins { target } => {
            let c = Client::new(&target.url)?;
            let (_, body) = c
                .call(
                    reqwest::Method::GET,
                    "/connector-plugins?connectorsOnly=false",
                    None,
                )
                .await?;
            match target.output {
                Output::Json => body.to_string(),
                Output::Table => {
                    let mut t = Table::new(&["CLASS", "TYPE", "VERSION"]);
                    for p in body.as_array().into_iter().flatten() {
                        t.row(vec![
                            text(&p["class"]),
                            text(&p["type"]),
                            text(&p["version"]),
                        ]);
                    }
                    t.render()
                }
            }
        }
        ClientCommand::Validate {
            class,
            file,
            target,
        } => {
            let loaded = load_connector_config(&file)?;
            let mut config = loaded.config;
            config
                .entry("connector.class".into())
                .or_insert_with(|| class.clone());
            let c = Client::new(&target.url)?;
            let (_, body) = c
                .call(
                    reqwest::Method::PUT,
                    &format!("/connector-plugins/{}/config/validate", seg(&class)),
                    Some(json!(config)),
                )
                .await?;
            let errors = body["error_count"].as_u64().unwrap_or(0);
            let shown = match target.output {
                Output::Json => body.to_string(),
                Output::Table => {
                    let mut t = Table::new(&["KEY", "ERROR"]);
                    for c in body["configs"].as_array().into_iter().flatten() {
                        for e in c["value"]["errors"].as_array().into_iter().flatten() {
                            t.row(vec![text(&c["value"]["name"]), text(e)]);
                        }
                    }
                    if errors == 0 {
                        format!("{class}: the config is valid")
                    } else {
                        format!("{class}: {errors} error(s)\n\n{}", t.render())
                    }
                }
            };
            if errors > 0 {
                // Printed, and the exit status says the config is not valid.
                return Err(client::Invalid(shown).into());
            }
            shown
        }
    })
}

async fn state_change(
    target: &Target,
    name: &str,
    action: &str,
    verb: &str,
) -> anyhow::Result<String> {
    let c = Client::new(&target.url)?;
    let (_, body) = c
        .call(
            reqwest::Method::PUT,
            &format!("/connectors/{}/{action}", seg(name)),
            None,
        )
        .await?;
    Ok(done(target, verb, name, (!body.is_null()).then_some(body)))
}

/// Whether an error is a failed validation whose report should go to stdout as it is.
pub fn invalid_report(e: &anyhow::Error) -> Option<&str> {
    e.downcast_ref::<client::Invalid>().map(|i| i.0.as_str())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn status_table_shows_the_first_trace_line() {
        let s = json!({
            "name": "n", "type": "sink",
            "connector": {"state": "RUNNING", "worker_id": "w:1"},
            "tasks": [{"id": 0, "state": "FAILED", "worker_id": "w:1", "trace": "boom\n\tat x"}]
        });
        assert_eq!(
            status_table(&s),
            "CONNECTOR  TYPE  STATE    WORKER\nn          sink  RUNNING  w:1\n\nTASK  STATE   WORKER  TRACE\n0     FAILED  w:1     boom\n"
        );
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
    }
}
