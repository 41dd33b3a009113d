#!/usr/bin/env python3
"""FileStream pipeline throughput with a chain of three transforms against none, same run.

Against the broker of `e2e/services up kafka`, one ferry standalone worker runs, in
alternation (best of --rounds for each; which variant of a leg goes first alternates by round):
  * source leg, no transforms: FileStreamSource -> topic (JsonConverter, schemas.enable=false);
  * source leg, three transforms: HoistField$Value(field=line) -> InsertField$Value(static
    field) -> RegexRouter (renames the topic);
  * sink leg, no transforms: topic -> FileStreamSink;
  * sink leg, three transforms: HoistField$Value -> InsertField$Value(offset.field) ->
    ExtractField$Value(field=line), so the file gets the same lines.
Target: the chain costs at most 15% of the throughput.

A source leg's rate is its steady one: records per second over the last 90% of the records,
by the CreateTime the producer stamped on them, in a topic created before the run. A sink
leg's is the lines written over the wall time from creating the connector.

With --same-size the source chain is HoistField$Value -> ExtractField$Value -> RegexRouter,
which leaves each record as it came: the transforms' own cost without a bigger payload.
With --same-bytes the source leg without transforms reads lines 26 bytes longer, so both
source runs write records of the same size (the sink legs are skipped).

With --concurrent both source variants run at once, each from its own copy of the file, and
a round compares the records each wrote over the window both ran: a slow spell of the
machine (two cores shared with the broker) hits both alike. It combines with --same-size
and --same-bytes.

With --reference the same legs run on the reference Apache Kafka Connect worker of
`e2e/services up kafka-connect` (KAFKA_CONNECT_URL) instead of ferry: the same chains under
the same class names, so its own cost of the chain, and its throughput beside ferry's, come
from the same machine and broker.

The topics are deleted at the end (CONFLUENT_PYTHON, from `e2e/services env`).

Usage: e2e/bench/transforms.py [--lines N] [--rounds R] [--same-size | --same-bytes] [--concurrent]
                               [--ferry PATH | --reference]
The ferry binary defaults to a release build under the cargo target dir.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from file_pipeline import (  # noqa: E402
    ROOT, bootstrap, count_lines, create_topic, delete_topics, end_offset, http, offset_at_time,
    timestamp_at, wait)

SOURCE_CHAIN = {
    "transforms": "hoist,insert,route",
    "transforms.hoist.type": "org.apache.kafka.connect.transforms.HoistField$Value",
    "transforms.hoist.field": "line",
    "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
    "transforms.insert.static.field": "origin",
    "transforms.insert.static.value": "ferry",
    "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
    "transforms.route.regex": "(.*)-in",
    "transforms.route.replacement": "$1-out",
}

# The same length of chain, but the records leave it as they came (a line): the transforms'
# own cost without a bigger payload for the converter and the producer.
SOURCE_CHAIN_SAME_SIZE = {
    "transforms": "hoist,extract,route",
    "transforms.hoist.type": "org.apache.kafka.connect.transforms.HoistField$Value",
    "transforms.hoist.field": "line",
    "transforms.extract.type": "org.apache.kafka.connect.transforms.ExtractField$Value",
    "transforms.extract.field": "line",
    "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
    "transforms.route.regex": "(.*)-in",
    "transforms.route.replacement": "$1-out",
}

# Per connector, as the worker file of ferry's runs says: the reference worker's own defaults
# are schemas.enable=true.
CONVERTERS = {
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "key.converter.schemas.enable": "false",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "false",
}

SINK_CHAIN = {
    "transforms": "hoist,insert,extract",
    "transforms.hoist.type": "org.apache.kafka.connect.transforms.HoistField$Value",
    "transforms.hoist.field": "line",
    "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
    "transforms.insert.offset.field": "offset",
    "transforms.extract.type": "org.apache.kafka.connect.transforms.ExtractField$Value",
    "transforms.extract.field": "line",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=500_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--ferry", default=None)
    ap.add_argument("--reference", action="store_true",
                    help="run the legs on the reference Kafka Connect worker (KAFKA_CONNECT_URL, "
                         "`e2e/services up kafka-connect`) instead of ferry")
    ap.add_argument("--same-size", action="store_true",
                    help="source chain HoistField -> ExtractField -> RegexRouter (records keep their size)")
    ap.add_argument("--concurrent", action="store_true",
                    help="run the two source variants at once, each from its own copy of the "
                         "file, and compare the records each wrote over the same window (the "
                         "sink legs are skipped)")
    ap.add_argument("--same-bytes", action="store_true",
                    help="the source leg without transforms reads lines 26 bytes longer, so it writes "
                         "records as large as the growing chain's (the chain's own cost, apart from size)")
    args = ap.parse_args()
    bs = bootstrap()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ferry = args.ferry or os.path.join(target, "release", "ferry")
    if args.reference:
        if not os.environ.get("KAFKA_CONNECT_URL"):
            sys.exit("--reference: KAFKA_CONNECT_URL is not set: run `e2e/services up "
                     "kafka-connect` and eval \"$(e2e/services env)\"")
    elif not os.path.exists(ferry):
        sys.exit(f"{ferry} not found: build it with `cargo build --release -p ferry-runtime`")

    work = tempfile.mkdtemp(prefix="ferry-bench-smt-")
    lines_path = os.path.join(work, "in.txt")
    with open(lines_path, "w") as f:
        pad = "x" * 80
        for i in range(args.lines):
            f.write(f"line-{i:010d}-{pad}\n")
    # The growing chain writes {"line":"L","origin":"ferry"} where no chain writes "L":
    # 26 bytes more per record.
    long_path = lines_path
    if args.concurrent and not args.same_bytes:
        # Its own file for the plain variant: two tasks reading one file share its pages
        # in the page cache, but not their positions.
        long_path = os.path.join(work, "in-plain.txt")
        shutil.copyfile(lines_path, long_path)
    if args.same_bytes:
        long_path = os.path.join(work, "in-long.txt")
        with open(long_path, "w") as f:
            pad = "x" * (80 + 26)
            for i in range(args.lines):
                f.write(f"line-{i:010d}-{pad}\n")
    stamp = str(int(time.time() * 1000))
    port = 20000 + (os.getpid() % 10000)
    worker = os.path.join(work, "worker.properties")
    with open(worker, "w") as f:
        f.write(f"bootstrap.servers={bs}\n"
                "key.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "key.converter.schemas.enable=false\n"
                "value.converter.schemas.enable=false\n"
                f"offset.storage.file.filename={work}/offsets.json\n"
                "offset.flush.interval.ms=1000\n"
                f"listeners=http://127.0.0.1:{port}\n")
    url = os.environ["KAFKA_CONNECT_URL"] if args.reference else f"http://127.0.0.1:{port}"
    worker_pid, stop_worker = start_worker(args, ferry, worker, work)

    def ready():
        try:
            return http("GET", url + "/")[0] == 200
        except OSError:
            return False
    wait("REST", ready, timeout=30, every=0.01)
    print(f"worker: {'Apache Kafka Connect (reference), ' + url if args.reference else ferry}",
          flush=True)

    n = 0

    def source(chain):
        nonlocal n
        n += 1
        topic = f"bench-smt-{stamp}-{n}-in"
        written = topic.replace("-in", "-out") if chain else topic
        config = {"connector.class": "FileStreamSource", "file": lines_path if chain else long_path,
                  "topic": topic, **CONVERTERS}
        if chain:
            config.update(SOURCE_CHAIN_SAME_SIZE if args.same_size else SOURCE_CHAIN)
        name = f"src-{stamp}-{n}"
        # The topic exists before the run (a marker record at offset 0), and the rate is
        # the steady one, from the records' CreateTime as the producer stamped them: over
        # the last 90% of the records. The first 10% cover the task's start, whose pauses
        # (the producer's first connection, a new topic's first write: a few hundred ms,
        # varying) would otherwise swing either variant's figure by several percent.
        create_topic(bs, written)
        c0 = cpu_seconds(worker_pid)
        http("POST", url + "/connectors", {"name": name, "config": config})
        wait(f"source leg {name}", lambda: end_offset(bs, written) >= args.lines + 1, every=0.2)
        used = cpu_seconds(worker_pid) - c0
        warm = args.lines // 10
        span = timestamp_at(bs, written, -1) - timestamp_at(bs, written, 1 + warm)
        rate = (args.lines - 1 - warm) / max(span / 1000, 1e-3)
        http("DELETE", f"{url}/connectors/{name}")
        return (rate, used), topic

    def concurrent(chain_first):
        """Both variants at once: the share of records the chain's task wrote, against the
        plain one's, while both ran (from the first 10% of either to the end of the first
        to finish), by CreateTime. A slow spell of the machine hits both alike."""
        nonlocal n
        n += 1
        plain, routed = f"bench-smt-{stamp}-{n}-plain-in", f"bench-smt-{stamp}-{n}-chain-in"
        written = {"plain": plain, "chain": routed.replace("-in", "-out")}
        for t in written.values():
            create_topic(bs, t)
        configs = {
            "plain": {"connector.class": "FileStreamSource", "file": long_path, "topic": plain,
                      **CONVERTERS},
            "chain": {"connector.class": "FileStreamSource", "file": lines_path,
                      "topic": routed, **CONVERTERS,
                      **(SOURCE_CHAIN_SAME_SIZE if args.same_size else SOURCE_CHAIN)},
        }
        for v in ("chain", "plain") if chain_first else ("plain", "chain"):
            http("POST", url + "/connectors", {"name": f"{v}-{stamp}-{n}", "config": configs[v]})
        for v, t in written.items():
            wait(f"concurrent leg {v}-{stamp}-{n}",
                 lambda t=t: end_offset(bs, t) >= args.lines + 1,
                 every=0.2)
        warm = 1 + args.lines // 10
        start = max(timestamp_at(bs, t, warm) for t in written.values())
        end = min(timestamp_at(bs, t, -1) for t in written.values())
        counts = {v: offset_at_time(bs, t, end) - offset_at_time(bs, t, start)
                  for v, t in written.items()}
        for v in written:
            http("DELETE", f"{url}/connectors/{v}-{stamp}-{n}")
        return counts["plain"], counts["chain"], (end - start) / 1000

    def sink(chain, topic):
        nonlocal n
        n += 1
        out = os.path.join(work, f"out-{n}.txt")
        config = {"connector.class": "FileStreamSink", "file": out, "topics": topic, **CONVERTERS}
        if chain:
            config.update(SINK_CHAIN)
        name = f"sink-{stamp}-{n}"
        c0, t0 = cpu_seconds(worker_pid), time.monotonic()
        http("POST", url + "/connectors", {"name": name, "config": config})
        # The topic starts with the source leg's marker record.
        wait(f"sink leg {name}", lambda: count_lines(out) >= args.lines + 1, every=0.1)
        rate = args.lines / (time.monotonic() - t0)
        used = cpu_seconds(worker_pid) - c0
        http("DELETE", f"{url}/connectors/{name}")
        with open(out) as f:
            first = [f.readline().rstrip("\n") for _ in range(2)]
        if first != ["marker", "line-0000000000-" + "x" * 80]:
            sys.exit(f"unexpected first lines in {out}: {first!r}")
        os.remove(out)
        return rate, used

    # (records/s, the worker's CPU seconds) of every run, by leg and variant.
    runs = {"source none": [], "source chain": [], "sink none": [], "sink chain": []}
    if args.concurrent:
        ratios = []
        for r in range(args.rounds):
            plain, chain, span = concurrent(chain_first=r % 2 == 1)
            ratios.append(1 - chain / max(plain, 1))
            print(f"round {r + 1}: over {span:.1f} s both ran, plain {plain / span:,.0f} "
                  f"records/s, chain {chain / span:,.0f} records/s", flush=True)
        stop_worker()
        shutil.rmtree(work, ignore_errors=True)
        delete_topics(bs, f"bench-smt-{stamp}-")
        print(f"lines: {args.lines}, {args.rounds} rounds, both variants at once")
        print(f"source leg: slower by {rounds_summary(ratios)}; target <= 15%")
        return

    for r in range(args.rounds):
        # Which variant goes first alternates: a worker can run the second of two runs
        # faster or slower (the JVM's compiler and collector, the broker's log flushes).
        order = (True, False) if r % 2 == 1 else (False, True)
        plain_topic = None
        for chain in order:
            run, topic = source(chain)
            runs["source chain" if chain else "source none"].append(run)
            plain_topic = plain_topic if chain else topic
        if not args.same_bytes:  # the sink leg reads the plain topic, of short lines
            for chain in order:
                runs["sink chain" if chain else "sink none"].append(sink(chain, plain_topic))

    stop_worker()
    shutil.rmtree(work, ignore_errors=True)
    # At the end, not per round: the broker's deleting files would slow the rounds after.
    delete_topics(bs, f"bench-smt-{stamp}-")

    # Best of the rounds, and the median of the rounds' own ratios (a round runs both
    # variants back to back, so a slow spell of the shared broker hits both); CPU is the
    # worker's own, per record, which the broker's spells do not move.
    print(f"lines: {args.lines}, {args.rounds} rounds")
    for leg in ("source",) if args.same_bytes else ("source", "sink"):
        none, chain = runs[f"{leg} none"], runs[f"{leg} chain"]
        best_none, best_chain = max(r for r, _ in none), max(r for r, _ in chain)
        ratios = [1 - c[0] / z[0] for z, c in zip(none, chain)]
        cpu_none = statistics.median(u for _, u in none) / args.lines * 1e6
        cpu_chain = statistics.median(u for _, u in chain) / args.lines * 1e6
        print(f"{leg} leg, no transforms:     best {best_none:10,.0f} records/s, "
              f"worker CPU {cpu_none:.2f} us/record")
        print(f"{leg} leg, three transforms:  best {best_chain:10,.0f} records/s, "
              f"worker CPU {cpu_chain:.2f} us/record")
        print(f"{leg} leg: {100 * (1 - best_chain / best_none):+.1f}% slower best to best, "
              f"{rounds_summary(ratios)}; "
              f"CPU {100 * (cpu_chain / max(cpu_none, 1e-9) - 1):+.1f}%; target <= 15%")


def start_worker(args, ferry, worker, work):
    """The worker under test: a ferry standalone worker started here, or with --reference the
    running Kafka Connect worker of `e2e/services up kafka-connect`. Returns its pid (for its
    CPU time) and how to stop it."""
    if args.reference:
        status = subprocess.run([os.path.join(ROOT, "e2e", "services"), "status"],
                                capture_output=True, text=True, check=True).stdout
        for line in status.splitlines():
            fields = line.split()
            if fields[:2] == ["kafka-connect", "running"]:
                pids = [f.split("=", 1)[1] for f in fields if f.startswith("pid=")]
                if pids and pids[0].isdigit():
                    return int(pids[0]), lambda: None
        sys.exit(f"--reference: kafka-connect is not running (`e2e/services status`):\n{status}")
    proc = subprocess.Popen([ferry, "standalone", worker],
                            stderr=open(os.path.join(work, "ferry.log"), "w"),
                            env={**os.environ, "FERRY_LOG": "warn"})

    def stop():
        proc.terminate()
        proc.wait(timeout=60)
    return proc.pid, stop


def rounds_summary(ratios):
    """The median of the rounds' ratios, their middle half (one round of one variant can be
    ten points off on two shared cores, so a figure is only as good as its spread) and each
    round's."""
    middle = ""
    if len(ratios) >= 4:
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        middle = f", middle half {100 * q1:+.0f}..{100 * q3:+.0f}%"
    return (f"{100 * statistics.median(ratios):+.1f}% median of rounds{middle} "
            f"(rounds: {', '.join(f'{100 * r:+.0f}%' for r in ratios)})")


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
