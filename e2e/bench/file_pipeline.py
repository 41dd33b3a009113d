#!/usr/bin/env python3
"""FileStreamSource -> Kafka -> FileStreamSink throughput, memory and start-up time.

Measures, against the broker of `e2e/services up kafka`, in one run:
  * ceiling: kcat (bare librdkafka) producing the same lines to a fresh topic;
  * source leg: ferry's FileStreamSource with JsonConverter (schemas.enable=false);
  * sink leg: ferry's FileStreamSink reading that topic back into a file;
  * the worker's peak RSS (VmHWM) and its start-to-REST-ready time.

Usage: e2e/bench/file_pipeline.py [--lines N] [--ferry PATH]
The ferry binary defaults to a release build under the cargo target dir.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def bootstrap():
    bs = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bs:
        sys.exit("KAFKA_BOOTSTRAP_SERVERS is not set: eval \"$(e2e/services env)\" first")
    return bs


def end_offset(bs, topic):
    return offset_at_time(bs, topic, -1)


def offset_at_time(bs, topic, ts):
    """The first offset of partition 0 whose timestamp is at or after `ts` (ms); -1: the
    end offset. 0 when the topic has no such offset yet."""
    out = subprocess.run(["kcat", "-b", bs, "-Q", "-t", f"{topic}:0:{ts}"],
                         capture_output=True, text=True)
    for word in out.stdout.split():
        if word.isdigit():
            last = int(word)
    try:
        return last
    except NameError:
        return 0


def create_topic(bs, topic):
    """Creates a topic by writing one marker record to it (kcat, auto-creation), so a
    timed run does not include the broker creating it. The marker is the JSON string
    "marker", which a sink with JsonConverter reads as the line `marker`."""
    subprocess.run(["kcat", "-P", "-b", bs, "-t", topic, "-p", "0"], input=b'"marker"\n',
                   check=True, capture_output=True)
    wait(f"topic {topic}", lambda: end_offset(bs, topic) >= 1, timeout=60)


_DELETE_TOPICS = """
import sys
from confluent_kafka.admin import AdminClient
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
topics = [t for t in admin.list_topics(timeout=30).topics if t.startswith(tuple(sys.argv[2:]))]
for topic, done in (admin.delete_topics(topics).items() if topics else []):
    done.result(timeout=60)
"""


def delete_topics(bs, *prefixes):
    """Deletes the topics whose names start with one of the prefixes: a benchmark writes
    hundreds of megabytes per run. Through confluent-kafka's AdminClient (the interpreter
    `e2e/services env` names in CONFLUENT_PYTHON); without it the topics stay, with a note.
    The broker frees their space after its file-delete delay."""
    python = os.environ.get("CONFLUENT_PYTHON")
    if not python or not os.path.exists(python):
        print(f"note: CONFLUENT_PYTHON is not set, topics {', '.join(prefixes)}* are left "
              "on the broker", file=sys.stderr)
        return
    out = subprocess.run([python, "-c", _DELETE_TOPICS, bs, *prefixes],
                         capture_output=True, text=True)
    if out.returncode != 0:
        print(f"note: could not delete topics {', '.join(prefixes)}*: "
              f"{out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)


def timestamp_at(bs, topic, offset):
    """The CreateTime (ms) of the record at an offset of partition 0 (-1: the last)."""
    out = subprocess.run(["kcat", "-C", "-b", bs, "-t", topic, "-p", "0", "-o", str(offset),
                          "-c", "1", "-e", "-f", "%T\n"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def wait(what, cond, timeout=600, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(every)
    sys.exit(f"timed out waiting for {what}")


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read()


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--ferry", default=None)
    args = ap.parse_args()
    bs = bootstrap()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ferry = args.ferry or os.path.join(target, "release", "ferry")
    if not os.path.exists(ferry):
        sys.exit(f"{ferry} not found: build it with `cargo build --release -p ferry-runtime`")

    work = tempfile.mkdtemp(prefix="ferry-bench-")
    lines_path = os.path.join(work, "in.txt")
    # ~100-byte lines, each unique.
    with open(lines_path, "w") as f:
        pad = "x" * 80
        for i in range(args.lines):
            f.write(f"line-{i:010d}-{pad}\n")
    size = os.path.getsize(lines_path)
    stamp = str(int(time.time() * 1000))

    # Ceiling: a bare librdkafka producer (kcat), one message per line.
    ceiling_topic = f"bench-ceiling-{stamp}"
    t0 = time.monotonic()
    subprocess.run(["kcat", "-P", "-b", bs, "-t", ceiling_topic, "-l", lines_path,
                    "-X", "linger.ms=5"], check=True)
    wait("ceiling topic", lambda: end_offset(bs, ceiling_topic) >= args.lines)
    ceiling = args.lines / (time.monotonic() - t0)

    # Ferry: start-up, then the source leg, then the sink leg.
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
    t0 = time.monotonic()
    proc = subprocess.Popen([ferry, "standalone", worker], stderr=open(os.path.join(work, "ferry.log"), "w"),
                            env={**os.environ, "FERRY_LOG": "warn"})

    def ready():
        try:
            return http("GET", url + "/")[0] == 200
        except OSError:
            return False
    wait("REST", ready, timeout=30, every=0.001)
    startup_ms = (time.monotonic() - t0) * 1000

    topic = f"bench-ferry-{stamp}"
    t0 = time.monotonic()
    http("POST", url + "/connectors", {"name": "bench-source", "config": {
        "connector.class": "FileStreamSource", "file": lines_path, "topic": topic}})
    wait("source leg", lambda: end_offset(bs, topic) >= args.lines)
    source_rate = args.lines / (time.monotonic() - t0)
    rss_after_source = peak_rss_mb(proc.pid)

    out_path = os.path.join(work, "out.txt")
    t0 = time.monotonic()
    http("POST", url + "/connectors", {"name": "bench-sink", "config": {
        "connector.class": "FileStreamSink", "file": out_path, "topics": topic}})
    wait("sink leg", lambda: count_lines(out_path) >= args.lines, every=0.1)
    sink_rate = args.lines / (time.monotonic() - t0)

    rss = peak_rss_mb(proc.pid)
    proc.terminate()
    delete_topics(bs, ceiling_topic, topic)
    proc.wait(timeout=60)
    shutil.rmtree(work, ignore_errors=True)

    print(f"lines: {args.lines} ({size / 1e6:.0f} MB)")
    print(f"ceiling (kcat producer):        {ceiling:12,.0f} records/s")
    print(f"ferry source leg (file->kafka): {source_rate:12,.0f} records/s  ({100 * source_rate / ceiling:.0f}% of ceiling; target >= 70%)")
    print(f"ferry sink leg (kafka->file):   {sink_rate:12,.0f} records/s")
    print(f"ferry peak RSS:                 {rss:12.1f} MB  (target < 50 MB; {rss_after_source:.1f} MB after the source leg)")
    print(f"ferry start to REST-ready:      {startup_ms:12.1f} ms  (target < 100 ms)")


if __name__ == "__main__":
    main()
