#!/usr/bin/env bash
# A standalone FileStream pipeline against the local Kafka: lines of test.txt into test.sink.txt.
#   e2e/services up kafka && examples/standalone/run.sh
# Lines appended to test.txt travel through Kafka (topic connect-test) into test.sink.txt.
set -euo pipefail
unset CDPATH
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
HERE=$ROOT/examples/standalone
eval "$("$ROOT"/e2e/services env)"
: "${KAFKA_BOOTSTRAP_SERVERS:?Kafka is not running: run e2e/services up kafka first}"

cargo build --release -p ferry-runtime --manifest-path "$ROOT/Cargo.toml" >&2
FERRY=${CARGO_TARGET_DIR:-$ROOT/target}/release/ferry

WORK=$(mktemp -d -t ferry-demo-XXXXXX)
cd "$WORK"
# The example files as shipped, with this machine's broker and a free port.
sed -e "s|^bootstrap.servers=.*|bootstrap.servers=$KAFKA_BOOTSTRAP_SERVERS|" \
    -e "s|^offset.storage.file.filename=.*|offset.storage.file.filename=$WORK/connect.offsets|" \
    -e "s|^listeners=.*|listeners=http://127.0.0.1:18083|" \
    "$HERE/connect-standalone.properties" >worker.properties
TOPIC=connect-test-$(date +%s)
sed "s|^topic=.*|topic=$TOPIC|" "$HERE/connect-file-source.properties" >source.properties
sed "s|^topics=.*|topics=$TOPIC|" "$HERE/connect-file-sink.properties" >sink.properties

printf 'hello\nworld\n' >test.txt
"$FERRY" standalone worker.properties source.properties sink.properties 2>ferry.log &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT

for _ in $(seq 1 200); do
  curl -sf http://127.0.0.1:18083/ >/dev/null && break
  sleep 0.05
done
echo "--- REST: connectors and their status"
curl -s 'http://127.0.0.1:18083/connectors?expand=status'; echo
for i in 1 2 3; do echo "line $i from the demo" >>test.txt; done
for _ in $(seq 1 200); do
  [ "$(wc -l <test.sink.txt 2>/dev/null || echo 0)" -ge 5 ] && break
  sleep 0.1
done
echo "--- topic $TOPIC (kcat)"
kcat -b "$KAFKA_BOOTSTRAP_SERVERS" -C -t "$TOPIC" -e -q
echo "--- test.sink.txt"
cat test.sink.txt
