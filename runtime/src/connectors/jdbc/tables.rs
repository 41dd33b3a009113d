//! Which tables a task reads: the database's tables of `table.types`, filtered by the
//! white/black (or include/exclude) lists, split over the tasks.

use super::config::JdbcSourceConfig;
use super::dialect::TableId;

/// Whether a configured name (`table`, `qualifier.table`, either optionally quoted)
/// names this table.
fn names(entry: &str, t: &TableId) -> bool {
    let unquoted: String = entry.chars().filter(|c| !matches!(c, '`' | '"')).collect();
    let unquoted = unquoted.trim();
    unquoted == t.name || unquoted == t.fqn()
}

fn matches_any(patterns: &[regex::Regex], t: &TableId) -> bool {
    patterns
        .iter()
        .any(|r| r.is_match(&t.fqn()) || r.is_match(&t.name))
}

/// The tables the configuration selects, sorted by fully-qualified name.
pub fn select(cfg: &JdbcSourceConfig, mut all: Vec<TableId>) -> Vec<TableId> {
    all.retain(|t| {
        if !cfg.whitelist.is_empty() {
            cfg.whitelist.iter().any(|e| names(e, t))
        } else if !cfg.blacklist.is_empty() {
            !cfg.blacklist.iter().any(|e| names(e, t))
        } else if !cfg.include.is_empty() {
            matches_any(&cfg.include, t)
        } else if !cfg.exclude.is_empty() {
            !matches_any(&cfg.exclude, t)
        } else {
            true
        }
    });
    all.sort_by_key(TableId::fqn);
    all.dedup();
    all
}

/// This task's share: every `count`-th table of the sorted list, starting at `index`.
pub fn share(tables: &[TableId], index: usize, count: usize) -> Vec<TableId> {
    tables
        .iter()
        .enumerate()
        .filter(|(i, _)| i % count.max(1) == index)
        .map(|(_, t)| t.clone())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Props;

    fn t(q: &str, n: &str) -> TableId {
        TableId {
            qualifier: q.into(),
            name: n.into(),
        }
    }

    fn cfg(kv: &[(&str, &str)]) -> JdbcSourceConfig {
        let mut p: Props = [
            ("connection.url", "jdbc:mysql://h/db"),
            ("topic.prefix", "t-"),
            ("mode", "bulk"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (k, v) in kv {
            p.insert((*k).to_owned(), (*v).to_owned());
        }
        JdbcSourceConfig::parse(&p).unwrap()
    }

    #[test]
    fn lists_filter_by_name_or_qualified_name() {
        let all = vec![t("db", "b"), t("db", "a"), t("db", "c_1"), t("other", "a")];
        let names = |v: Vec<TableId>| v.iter().map(TableId::fqn).collect::<Vec<_>>();
        assert_eq!(
            names(select(&cfg(&[]), all.clone())),
            ["db.a", "db.b", "db.c_1", "other.a"]
        );
        assert_eq!(
            names(select(
                &cfg(&[("table.whitelist", "a, `db`.`b`")]),
                all.clone()
            )),
            ["db.a", "db.b", "other.a"]
        );
        assert_eq!(
            names(select(&cfg(&[("table.blacklist", "db.a")]), all.clone())),
            ["db.b", "db.c_1", "other.a"]
        );
        assert_eq!(
            names(select(
                &cfg(&[("table.include.list", "db\\.c_.*")]),
                all.clone()
            )),
            ["db.c_1"]
        );
        assert_eq!(
            names(select(
                &cfg(&[("table.exclude.list", "other\\..*,db\\.a")]),
                all
            )),
            ["db.b", "db.c_1"]
        );
    }

    #[test]
    fn tables_are_shared_round_robin() {
        let all: Vec<TableId> = (0..5).map(|i| t("db", &format!("t{i}"))).collect();
        let shares: Vec<usize> = (0..2).map(|i| share(&all, i, 2).len()).collect();
        assert_eq!(shares, [3, 2]);
        assert_eq!(share(&all, 1, 2)[0].name, "t1");
    }
}
