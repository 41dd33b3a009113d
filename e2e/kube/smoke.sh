#!/usr/bin/env bash
# e2e/kube/smoke.sh — check that `e2e/services up kube` gives a working
# cluster: server version, a Ready fake node, a StatefulSet that becomes
# Ready, scales, and whose Pods are garbage-collected when it is deleted.
# Uses the running kube service (starts it when KUBECONFIG is unset).
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/../.."
if [[ -z ${KUBECONFIG:-} ]]; then
  e2e/services up kube
  eval "$(e2e/services env)"
fi
ns=ferry-smoke-$$
step() { printf 'smoke: %s\n' "$*" >&2; }
cleanup() { kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true; }
trap cleanup EXIT

step "server $(kubectl version -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -n 1)"
kubectl wait --for=condition=Ready node --all --timeout=60s
kubectl create namespace "$ns"
# Pods need the namespace's default ServiceAccount (made by the controller manager).
for _ in $(seq 1 60); do kubectl -n "$ns" get serviceaccount default >/dev/null 2>&1 && break; sleep 0.5; done
kubectl -n "$ns" apply -f e2e/kube/smoke.yaml
kubectl -n "$ns" rollout status statefulset/smoke --timeout=60s
kubectl -n "$ns" scale statefulset/smoke --replicas=3
kubectl -n "$ns" rollout status statefulset/smoke --timeout=60s
ready=$(kubectl -n "$ns" get statefulset smoke -o jsonpath='{.status.readyReplicas}')
[[ $ready == 3 ]] || { echo "smoke: expected 3 ready replicas, got '$ready'" >&2; exit 1; }
kubectl -n "$ns" get pods -o wide
kubectl -n "$ns" delete statefulset smoke --cascade=background
for _ in $(seq 1 120); do
  [[ -z $(kubectl -n "$ns" get pods -l app=smoke -o name) ]] && break
  sleep 0.5
done
[[ -z $(kubectl -n "$ns" get pods -l app=smoke -o name) ]] \
  || { echo "smoke: pods not garbage-collected after 60 s" >&2; kubectl -n "$ns" get pods >&2; exit 1; }
step "ok: StatefulSet ran, scaled to 3, and its pods were garbage-collected"
