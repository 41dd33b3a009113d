//! `JdbcSourceTask`: one connection, one querier per assigned table (or one for the
//! query), polled in turn; tables are re-scanned every `table.poll.interval.ms`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::config::JdbcSourceConfig;
use super::connection::{ConnectSpec, Db};
use super::querier::{Querier, Source};
use super::tables;
use crate::config::Props;
use crate::connectors::{OffsetReader, SourceTask, SourceTaskContext};
use crate::data::SourceRecord;
use crate::errors::{ConnectError, Result};

#[derive(Default)]
pub struct JdbcSourceTask {
    state: Option<State>,
}

struct State {
    cfg: JdbcSourceConfig,
    spec: ConnectSpec,
    /// The connection while no query runs (a running query's fetch task owns it).
    db: Option<Db>,
    offsets: Arc<dyn OffsetReader>,
    queriers: Vec<Querier>,
    /// The querier whose result is being read.
    current: Option<usize>,
    /// Queries failed in a row for a retriable reason.
    failures: u32,
    next_rescan: Instant,
}

impl State {
    async fn db(&mut self) -> Result<&mut Db> {
        if self.db.is_none() {
            self.db = Some(self.spec.connect().await?);
        }
        self.db
            .as_mut()
            .ok_or_else(|| ConnectError::internal("JDBC connection missing after connect"))
    }

    /// After a failed query: a dropped connection is replaced and the querier tried again
    /// after `connection.backoff.ms` (its offset is that of the last row handed out, so
    /// nothing is skipped); a failure beyond `query.retry.attempts` retries in a row, or
    /// an error the database answered (bad SQL, missing privilege), fails the task.
    async fn failed(&mut self, idx: usize, mut db: Db, e: ConnectError) -> Result<()> {
        let alive = db.is_valid().await;
        if alive {
            self.db = Some(db);
        } else {
            self.db = None;
        }
        if !e.retriable() {
            return Err(e);
        }
        if let Some(retries) = self.cfg.query_retries
            && self.failures >= retries
        {
            return Err(ConnectError::external(
                format!("Failed to query table after {retries} retries: {e}"),
                false,
            ));
        }
        self.failures += 1;
        tracing::warn!(error = %e, failures = self.failures, connection_alive = alive, "JDBC query failed; trying again");
        if let Some(q) = self.queriers.get_mut(idx) {
            q.next_due = Instant::now() + self.cfg.backoff;
        }
        Ok(())
    }

    /// Brings the queriers in line with the tables now selected for this task.
    async fn rescan(&mut self) -> Result<()> {
        self.next_rescan = Instant::now() + self.cfg.table_poll_interval;
        if self.cfg.query.is_some() {
            return Ok(());
        }
        let cfg = self.cfg.clone();
        let all = self.db().await?.tables(&cfg).await?;
        let mine = tables::share(&tables::select(&cfg, all), cfg.task_index, cfg.task_count);
        let before = self.queriers.len();
        self.queriers.retain(|q| match &q.source {
            Source::Table(t) => {
                let keep = mine.contains(t);
                if !keep {
                    tracing::info!(table = %t.fqn(), "table is gone or no longer selected; stop reading it");
                }
                keep
            }
            Source::Query(_) => true,
        });
        let removed = before - self.queriers.len();
        for t in mine {
            if self
                .queriers
                .iter()
                .any(|q| q.source == Source::Table(t.clone()))
            {
                continue;
            }
            let mut q = Querier::new(Source::Table(t), &cfg, &*self.offsets);
            q.validate(self.db().await?, &cfg).await?;
            self.queriers.push(q);
        }
        if removed > 0 || self.queriers.len() != before {
            tracing::info!(
                tables = ?self.queriers.iter().map(Querier::describe).collect::<Vec<_>>(),
                "JDBC task reads"
            );
        }
        if self.queriers.is_empty() {
            tracing::warn!(
                "no table matches this task's configuration yet; looking again every {} ms",
                cfg.table_poll_interval.as_millis()
            );
        }
        Ok(())
    }
}

#[async_trait]
impl SourceTask for JdbcSourceTask {
    async fn start(&mut self, props: &Props, context: SourceTaskContext) -> Result<()> {
        let cfg = JdbcSourceConfig::parse(props)?;
        let spec = ConnectSpec::new(&cfg)?;
        let mut state = State {
            spec,
            db: None,
            offsets: context.offsets,
            queriers: Vec::new(),
            current: None,
            failures: 0,
            next_rescan: Instant::now(),
            cfg,
        };
        if let Some(query) = state.cfg.query.clone() {
            let q = Querier::new(Source::Query(query), &state.cfg, &*state.offsets);
            state.queriers.push(q);
        }
        // Connects (with retries) and validates every table now, so a bad setup fails the
        // task at once with the reason.
        state.rescan().await?;
        state.db().await?;
        if let Some(mut db) = state.db.take() {
            for q in &mut state.queriers {
                q.validate(&mut db, &state.cfg).await?;
            }
            state.db = Some(db);
        }
        self.state = Some(state);
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let s = self
            .state
            .as_mut()
            .ok_or_else(|| ConnectError::internal("JdbcSourceTask polled before start"))?;
        let idx = match s.current {
            Some(i) if s.queriers.get(i).is_some_and(Querier::is_running) => i,
            _ => {
                s.current = None;
                if Instant::now() >= s.next_rescan {
                    s.rescan().await?;
                }
                let next = s
                    .queriers
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, q)| q.next_due)
                    .map(|(i, q)| (i, q.next_due));
                let now = Instant::now();
                let (i, due) = match next {
                    Some(n) => n,
                    None => {
                        tokio::time::sleep_until(s.next_rescan.into()).await;
                        return Ok(Vec::new());
                    }
                };
                if due > now {
                    tokio::time::sleep_until(due.min(s.next_rescan).into()).await;
                    return Ok(Vec::new());
                }
                s.db().await?;
                let db =
                    s.db.take()
                        .ok_or_else(|| ConnectError::internal("JDBC connection missing"))?;
                let cfg = &s.cfg;
                let Some(q) = s.queriers.get_mut(i) else {
                    s.db = Some(db);
                    return Ok(Vec::new());
                };
                let started = q.start(db, cfg).await;
                if let Err((db, e)) = started {
                    s.failed(i, db, e).await?;
                    return Ok(Vec::new());
                }
                s.current = Some(i);
                i
            }
        };
        let max = s.cfg.batch_max_rows;
        let mut out = Vec::with_capacity(max.min(4096));
        let Some(q) = s.queriers.get_mut(idx) else {
            return Ok(out);
        };
        let done = q.read(&s.cfg, max, &mut out).await;
        let running = q.is_running();
        match done {
            Some((db, res)) => {
                s.current = None;
                match res {
                    Ok(()) => {
                        s.failures = 0;
                        s.db = Some(db);
                    }
                    Err(e) => s.failed(idx, db, e).await?,
                }
            }
            // The fetch task died with the connection; reconnect on the next poll.
            None if !running => {
                s.current = None;
                s.db = None;
            }
            None => {}
        }
        Ok(out)
    }

    async fn stop(&mut self) -> Result<()> {
        if let Some(mut s) = self.state.take() {
            s.queriers.clear();
            if let Some(db) = s.db.take() {
                let _ = tokio::time::timeout(Duration::from_secs(5), db.close()).await;
            }
        }
        Ok(())
    }
}
