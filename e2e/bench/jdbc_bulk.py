#!/usr/bin/env python3
"""JDBC source in bulk mode: MariaDB table -> Kafka throughput and memory.

Against the services of `e2e/services up kafka mariadb`, in one run:
  * builds a table of N rows (default 1,000,000) of ten mixed columns, and one of N/10;
  * ceiling: the `mariadb` client streaming the same rows (`--quick`) into /dev/null;
  * ferry: a fresh `ferry standalone` per table, one JdbcSourceConnector in bulk mode
    (JsonConverter, schemas.enable=false), timed from the connector's creation until the
    topic holds every row; the worker's peak RSS (VmHWM) for each table size.

Usage: e2e/bench/jdbc_bulk.py [--rows N] [--batch-max-rows B] [--ferry PATH] [--keep-tables]
The ferry binary defaults to a release build under the cargo target dir.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from file_pipeline import (  # noqa: E402
    ROOT, bootstrap, delete_topics, end_offset, http, peak_rss_mb, timestamp_at, wait)

DB = "ferry_bench"


def env(name):
    v = os.environ.get(name)
    if not v:
        sys.exit(f"{name} is not set: e2e/services up kafka mariadb && eval \"$(e2e/services env)\" first")
    return v


def mariadb_cmd():
    return ["mariadb", "--no-defaults", "-h", env("MARIADB_HOST"), "-P", env("MARIADB_PORT"),
            "-u", env("MARIADB_USER"), f"-p{env('MARIADB_PASSWORD')}",
            # A default database: the Sequence engine's seq_1_to_N tables need one.
            "-D", env("MARIADB_DATABASE")]


def sql(statement):
    subprocess.run(mariadb_cmd() + ["-e", statement], check=True)


def build_tables(rows):
    """Two tables, N and N/10 rows, of ten mixed columns; kept when already built."""
    small = rows // 10
    cols = ("id BIGINT NOT NULL PRIMARY KEY, i INT NOT NULL, b BIGINT NOT NULL, d DOUBLE NOT NULL, "
            "amount DECIMAL(12,2) NOT NULL, s VARCHAR(40) NOT NULL, note TEXT, "
            "created DATETIME(3) NOT NULL, day DATE NOT NULL, flag BOOLEAN NOT NULL")
    # seq_1_to_N is MariaDB's Sequence engine.
    select = ("SELECT seq, seq % 100000, seq * 7919, seq / 7.0, (seq % 100000) / 100, "
              "CONCAT('name-', seq), IF(seq % 3 = 0, NULL, CONCAT('note about row ', seq)), "
              "TIMESTAMPADD(SECOND, seq, '2026-01-01'), DATE_ADD('2000-01-01', INTERVAL seq % 9000 DAY), "
              "seq % 2 FROM seq_1_to_{n}")
    sql(f"CREATE DATABASE IF NOT EXISTS {DB}")
    for name, n in ((f"bulk_{rows}", rows), (f"bulk_{small}", small)):
        have = subprocess.run(mariadb_cmd() + ["-N", "-B", "-e", f"SELECT COUNT(*) FROM {DB}.{name}"],
                              capture_output=True, text=True)
        if have.returncode == 0 and have.stdout.strip() == str(n):
            continue
        t0 = time.monotonic()
        sql(f"DROP TABLE IF EXISTS {DB}.{name}; CREATE TABLE {DB}.{name} ({cols}); "
            f"INSERT INTO {DB}.{name} {select.format(n=n)}")
        print(f"built {DB}.{name} ({n} rows) in {time.monotonic() - t0:.1f} s", flush=True)
    return [(f"bulk_{small}", small), (f"bulk_{rows}", rows)]


def ceiling(table, rows):
    """The database's own client reading every row into /dev/null."""
    t0 = time.monotonic()
    with open(os.devnull, "wb") as null:
        subprocess.run(mariadb_cmd() + ["--quick", "-N", "-B", "-e", f"SELECT * FROM {DB}.{table}"],
                       stdout=null, check=True)
    return rows / (time.monotonic() - t0)


def ferry_run(ferry, bs, table, rows, batch, work):
    """One bulk pass of `table` by a fresh worker: rows/s and the worker's peak RSS."""
    port = 20000 + (os.getpid() + rows) % 10000
    worker = os.path.join(work, f"worker-{table}.properties")
    with open(worker, "w") as f:
        f.write(f"bootstrap.servers={bs}\n"
                "key.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "key.converter.schemas.enable=false\n"
                "value.converter.schemas.enable=false\n"
                f"offset.storage.file.filename={work}/offsets-{table}.json\n"
                "offset.flush.interval.ms=1000\n"
                f"listeners=http://127.0.0.1:{port}\n")
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([ferry, "standalone", worker],
                            stderr=open(os.path.join(work, f"ferry-{table}.log"), "w"),
                            env={**os.environ, "FERRY_LOG": "warn"})

    def ready():
        try:
            return http("GET", url + "/")[0] == 200
        except OSError:
            return False
    wait("REST", ready, timeout=30, every=0.01)
    prefix = f"bench-jdbc-{int(time.time() * 1000)}-"
    jdbc = (f"jdbc:mariadb://{env('MARIADB_HOST')}:{env('MARIADB_PORT')}/{DB}"
            f"?user={env('MARIADB_USER')}&password={env('MARIADB_PASSWORD')}")
    t0 = time.monotonic()
    http("POST", url + "/connectors", {"name": "bench-jdbc", "config": {
        "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
        "connection.url": jdbc, "mode": "bulk", "table.whitelist": table,
        "topic.prefix": prefix, "batch.max.rows": str(batch),
        # One pass: the next bulk poll would start over.
        "poll.interval.ms": "3600000"}})
    topic = prefix + table
    wait(f"{rows} rows on {topic}", lambda: end_offset(bs, topic) >= rows, every=0.1)
    rate = rows / (time.monotonic() - t0)
    rss = peak_rss_mb(proc.pid)
    proc.terminate()
    proc.wait(timeout=60)
    steady = steady_rate(bs, topic, rows)
    delete_topics(bs, prefix)
    return rate, steady, rss


def steady_rate(bs, topic, rows):
    """Rows/s between the first and the last record handed to the producer: the pipeline's
    rate without the fixed start (connector and task start, connection, first query, the
    topic's creation) and without the benchmark's 0.1-s polling."""
    span = timestamp_at(bs, topic, rows - 1) - timestamp_at(bs, topic, 0)
    return (rows - 1) / (span / 1000) if span > 0 else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch-max-rows", type=int, default=100)
    ap.add_argument("--ferry", default=None)
    ap.add_argument("--keep-tables", action="store_true", help="keep the tables for the next run")
    args = ap.parse_args()
    bs = bootstrap()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ferry = args.ferry or os.path.join(target, "release", "ferry")
    if not os.path.exists(ferry):
        sys.exit(f"{ferry} not found: build it with `cargo build --release -p ferry-runtime`")
    tables = build_tables(args.rows)
    work = tempfile.mkdtemp(prefix="ferry-bench-jdbc-")
    results = []
    for table, rows in tables:
        top = ceiling(table, rows)
        rate, steady, rss = ferry_run(ferry, bs, table, rows, args.batch_max_rows, work)
        results.append((rows, top, rate, steady, rss))
    if not args.keep_tables:
        sql(f"DROP DATABASE {DB}")
    print(f"batch.max.rows={args.batch_max_rows}")
    for rows, top, rate, steady, rss in results:
        print(f"{rows:>9,} rows: ceiling (mariadb client) {top:10,.0f} rows/s; "
              f"ferry bulk -> Kafka {rate:10,.0f} rows/s from the connector's creation "
              f"({100 * rate / top:.0f}% of ceiling; target >= 50%), {steady:10,.0f} rows/s "
              f"first to last record ({100 * steady / top:.0f}%); peak RSS {rss:6.1f} MB")
    small, big = results[0][4], results[-1][4]
    print(f"RSS growth for a ten-fold table: {big - small:+.1f} MB (target: flat)")


if __name__ == "__main__":
    main()
