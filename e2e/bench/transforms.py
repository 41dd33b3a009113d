#!/usr/bin/env python3
"""FileStream pipeline throughput with a chain of three transforms against none, same run.

Against the broker of `e2e/services up kafka`, one ferry standalone worker runs, in
alternation (best of --rounds for each):
  * source leg, no transforms: FileStreamSource -> topic (JsonConverter, schemas.enable=false);
  * source leg, three transforms: HoistField$Value(field=line) -> InsertField$Value(static
    field) -> RegexRouter (renames the topic);
  * sink leg, no transforms: topic -> FileStreamSink;
  * sink leg, three transforms: HoistField$Value -> InsertField$Value(offset.field) ->
    ExtractField$Value(field=line), so the file gets the same lines.
Target: the chain costs at most 15% of the throughput.

With --same-size the source chain is HoistField$Value -> ExtractField$Value -> RegexRouter,
which leaves each record as it came: the transforms' own cost without a bigger payload.
With --same-bytes the source leg without transforms reads lines 26 bytes longer, so both
source runs write records of the same size (the sink legs are skipped).

Usage: e2e/bench/transforms.py [--lines N] [--rounds R] [--same-size | --same-bytes] [--ferry PATH]
The ferry binary defaults to a release build under the cargo target dir.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from file_pipeline import ROOT, bootstrap, count_lines, end_offset, http, wait  # noqa: E402

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
    ap.add_argument("--same-size", action="store_true",
                    help="source chain HoistField -> ExtractField -> RegexRouter (records keep their size)")
    ap.add_argument("--same-bytes", action="store_true",
                    help="the source leg without transforms reads lines 26 bytes longer, so it writes "
                         "records as large as the growing chain's (the chain's own cost, apart from size)")
    args = ap.parse_args()
    bs = bootstrap()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ferry = args.ferry or os.path.join(target, "release", "ferry")
    if not os.path.exists(ferry):
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
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([ferry, "standalone", worker],
                            stderr=open(os.path.join(work, "ferry.log"), "w"),
                            env={**os.environ, "FERRY_LOG": "warn"})

    def ready():
        try:
            return http("GET", url + "/")[0] == 200
        except OSError:
            return False
    wait("REST", ready, timeout=30, every=0.01)

    n = 0

    def source(chain):
        nonlocal n
        n += 1
        topic = f"bench-smt-{stamp}-{n}-in"
        written = topic.replace("-in", "-out") if chain else topic
        config = {"connector.class": "FileStreamSource", "file": lines_path if chain else long_path,
                  "topic": topic}
        if chain:
            config.update(SOURCE_CHAIN_SAME_SIZE if args.same_size else SOURCE_CHAIN)
        name = f"src-{n}"
        t0 = time.monotonic()
        http("POST", url + "/connectors", {"name": name, "config": config})
        wait(f"source leg {name}", lambda: end_offset(bs, written) >= args.lines)
        rate = args.lines / (time.monotonic() - t0)
        http("DELETE", f"{url}/connectors/{name}")
        return rate, topic

    def sink(chain, topic):
        nonlocal n
        n += 1
        out = os.path.join(work, f"out-{n}.txt")
        config = {"connector.class": "FileStreamSink", "file": out, "topics": topic}
        if chain:
            config.update(SINK_CHAIN)
        name = f"sink-{n}"
        t0 = time.monotonic()
        http("POST", url + "/connectors", {"name": name, "config": config})
        wait(f"sink leg {name}", lambda: count_lines(out) >= args.lines, every=0.1)
        rate = args.lines / (time.monotonic() - t0)
        http("DELETE", f"{url}/connectors/{name}")
        with open(out) as f:
            first = f.readline().rstrip("\n")
        if first != "line-0000000000-" + "x" * 80:
            sys.exit(f"unexpected first line in {out}: {first!r}")
        os.remove(out)
        return rate

    best = {"source none": 0.0, "source chain": 0.0, "sink none": 0.0, "sink chain": 0.0}
    plain_topic = None
    for _ in range(args.rounds):
        rate, plain_topic = source(False)
        best["source none"] = max(best["source none"], rate)
        rate, _ = source(True)
        best["source chain"] = max(best["source chain"], rate)
        if not args.same_bytes:  # the sink leg reads the plain topic, of short lines
            best["sink none"] = max(best["sink none"], sink(False, plain_topic))
            best["sink chain"] = max(best["sink chain"], sink(True, plain_topic))

    proc.terminate()
    proc.wait(timeout=60)
    shutil.rmtree(work, ignore_errors=True)

    print(f"lines: {args.lines}, best of {args.rounds} rounds")
    for leg in ("source",) if args.same_bytes else ("source", "sink"):
        none, chain = best[f"{leg} none"], best[f"{leg} chain"]
        print(f"{leg} leg, no transforms:     {none:12,.0f} records/s")
        print(f"{leg} leg, three transforms:  {chain:12,.0f} records/s  "
              f"({100 * (1 - chain / none):+.1f}% slower; target <= 15%)")


if __name__ == "__main__":
    main()
