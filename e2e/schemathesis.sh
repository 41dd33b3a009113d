#!/usr/bin/env bash
# e2e/schemathesis.sh — fuzz Ferry's REST API with schemathesis, driven by the OpenAPI
# document the worker serves (GET /openapi.json).
#
# Starts a `ferry standalone` worker against the Kafka broker of e2e/services (started when
# KAFKA_BOOTSTRAP_SERVERS is not set), creates two connectors so that fuzzed requests also
# reach existing ones, runs `st run` with the checks below, then stops the worker. Exits
# non-zero when schemathesis finds a failure or the worker logged a panic.
#
# schemathesis is installed (once, pinned) into
# ${FERRY_CACHE_DIR:-$HOME/.cache/ferry}/venv-schemathesis.
#
# Environment:
#   ST_MAX_EXAMPLES   test cases per operation and phase (default 100: about a minute)
#   ST_SEED           a seed, to replay a run
#   ST_CHECKS         the checks (default below)
#   ST_ARGS           more arguments for `st run`
set -euo pipefail

unset CDPATH
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
CACHE_DIR=${FERRY_CACHE_DIR:-$HOME/.cache/ferry}
VENV=$CACHE_DIR/venv-schemathesis
ST_VERSION=4.32.5
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-100}
CHECKS=${ST_CHECKS:-not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance}
PROG=e2e/schemathesis.sh

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

# -- schemathesis, in its own venv (idempotent) ------------------------------------------
if ! "$VENV/bin/st" --version 2>/dev/null | grep -qx "st, version $ST_VERSION"; then
  log "installing schemathesis $ST_VERSION into $VENV"
  mkdir -p -- "$CACHE_DIR"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi

# -- Kafka and the worker binary ---------------------------------------------------------
if [[ -z ${KAFKA_BOOTSTRAP_SERVERS:-} ]]; then
  "$ROOT/e2e/services" up kafka
  eval "$("$ROOT/e2e/services" env)"
fi
[[ -n ${KAFKA_BOOTSTRAP_SERVERS:-} ]] || die "no Kafka: e2e/services env printed no KAFKA_BOOTSTRAP_SERVERS"

log "building ferry"
cargo build --quiet --manifest-path "$ROOT/Cargo.toml" -p ferry-runtime --bin ferry
TARGET_DIR=$(cargo metadata --manifest-path "$ROOT/Cargo.toml" --format-version 1 --no-deps \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
FERRY=$TARGET_DIR/debug/ferry
[[ -x $FERRY ]] || die "no binary at $FERRY"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-schemathesis.XXXXXX")
FERRY_PID=
cleanup() {
  if [[ -n $FERRY_PID ]] && kill -0 "$FERRY_PID" 2>/dev/null; then
    kill -TERM "$FERRY_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$FERRY_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$FERRY_PID" 2>/dev/null || true
  fi
  rm -rf -- "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
cat > "$WORK/worker.properties" <<EOF
bootstrap.servers=$KAFKA_BOOTSTRAP_SERVERS
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=false
value.converter.schemas.enable=false
offset.storage.file.filename=$WORK/offsets.json
offset.flush.interval.ms=1000
listeners=$BASE
EOF
# The worker runs in the temp dir, so any relative file a fuzzed config names lands there.
(cd "$WORK" && exec "$FERRY" standalone "$WORK/worker.properties") >"$WORK/ferry.log" 2>&1 &
FERRY_PID=$!

ready=
for _ in $(seq 1 300); do
  if curl -fsS -o /dev/null "$BASE/"; then ready=1; break; fi
  kill -0 "$FERRY_PID" 2>/dev/null || { cat "$WORK/ferry.log" >&2; die "ferry exited early"; }
  sleep 0.1
done
[[ -n $ready ]] || { tail -50 "$WORK/ferry.log" >&2; die "ferry did not answer on $BASE within 30 s"; }
log "ferry is up on $BASE (log: $WORK/ferry.log)"

# Two connectors for the fuzzed names to hit: a running source and a stopped sink.
TOPIC=schemathesis-$$-$RANDOM
printf 'line 1\nline 2\n' > "$WORK/in.txt"
post() {
  local code
  code=$(curl -sS -o "$WORK/post.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data "$1" "$BASE/connectors")
  [[ $code == 201 ]] || { cat "$WORK/post.out" >&2; die "could not create a connector ($code)"; }
}
post "{\"name\": \"fuzz-source\", \"config\": {\"connector.class\": \"FileStreamSource\", \"file\": \"$WORK/in.txt\", \"topic\": \"$TOPIC\"}}"
post "{\"name\": \"fuzz-sink\", \"initial_state\": \"STOPPED\", \"config\": {\"connector.class\": \"FileStreamSink\", \"file\": \"$WORK/out.txt\", \"topics\": \"$TOPIC\"}}"

# Half of the generated path parameters name something that exists.
cat > "$WORK/schemathesis.toml" <<'EOF'
[dictionaries.connectors]
values = ["fuzz-source", "fuzz-sink"]
[dictionaries.plugins]
values = ["FileStreamSource", "org.apache.kafka.connect.file.FileStreamSinkConnector", "JsonConverter"]
[dictionaries.loggers]
values = ["root", "ferry_runtime", "org.apache.kafka.connect"]
[dictionaries.tasks]
values = [0]

[parameters]
"path.name" = { dictionary = "connectors", probability = 0.5 }
"path.plugin" = { dictionary = "plugins", probability = 0.5 }
"path.logger" = { dictionary = "loggers", probability = 0.5 }
"path.task" = { dictionary = "tasks", probability = 0.5 }
EOF

args=(run "$BASE/openapi.json"
  --checks "$CHECKS"
  --max-examples "$MAX_EXAMPLES"
  --workers 1
  --request-timeout 30
  --report junit --report-dir "$WORK/report"
  --no-color)
[[ -n ${ST_SEED:-} ]] && args+=(--seed "$ST_SEED")
# shellcheck disable=SC2206 # ST_ARGS is split on purpose
[[ -n ${ST_ARGS:-} ]] && args+=($ST_ARGS)
log "st ${args[*]}"
status=0
(cd "$WORK" && "$VENV/bin/st" --config-file "$WORK/schemathesis.toml" "${args[@]}") || status=$?

if ! kill -0 "$FERRY_PID" 2>/dev/null; then
  tail -50 "$WORK/ferry.log" >&2
  die "ferry died during the run"
fi
if grep -q 'panicked' "$WORK/ferry.log"; then
  grep -B2 -A10 'panicked' "$WORK/ferry.log" >&2
  die "ferry panicked during the run"
fi
if [[ $status != 0 ]]; then
  log "schemathesis found failures (exit $status); ferry's log: "
  tail -30 "$WORK/ferry.log" >&2
  exit "$status"
fi
log "no failures"
