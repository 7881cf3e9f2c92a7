#!/usr/bin/env bash
# Steps 1-10 of the guide in one command (`npm run kind:up`): kind cluster, image, metrics-server, the manifests
# in the guide's order, and a wait until both Deployments are available. Safe to run again: an existing cluster
# is reused and `kubectl apply` only changes what differs.
#   --dry-run   print each command instead of running it (needs none of docker, kind, kubectl)
#   --with-observability   then apply k8s/overlays/observability: Jaeger, Prometheus, Grafana (docs/OBSERVABILITY.md)
#   --production  k8s/overlays/production instead of the guide's files, on a 3-worker cluster (kind-mcp-cluster-production.yaml)
set -euo pipefail

readonly CLUSTER=mcp-cluster
readonly CONTEXT="kind-${CLUSTER}"
readonly IMAGE=ai-lab-2-2-paid:v1
readonly NAMESPACE=ai-ml-lab-2-2
# kind ships no metrics-server, so `kubectl top` (Step 10, Test 9) fails without it. kind's kubelets serve
# self-signed certificates, hence --kubelet-insecure-tls (acceptable on a throwaway local cluster only).
readonly METRICS_SERVER_URL=https://github.com/kubernetes-sigs/metrics-server/releases/download/v0.8.1/components.yaml
readonly METRICS_SERVER_PATCH='[{"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"--kubelet-insecure-tls"}]'
readonly WAIT_TIMEOUT=180s

DRY_RUN=0
WITH_OBSERVABILITY=0
PRODUCTION=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --with-observability) WITH_OBSERVABILITY=1 ;;
    --production) PRODUCTION=1 ;;
    -h | --help)
      sed -n '2,7p' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *)
      echo "kind-up: unknown argument: $arg (expected --dry-run, --with-observability, --production or --help)" >&2
      exit 2
      ;;
  esac
done
if [[ "$PRODUCTION" -eq 1 && "$WITH_OBSERVABILITY" -eq 1 ]]; then
  echo "kind-up: --production and --with-observability do not combine yet (docs/KUBERNETES.md, Production overlay)" >&2
  exit 2
fi

# Print a command the way it would be typed (single-quoting words with shell characters), then run it.
run() {
  local word line=''
  for word in "$@"; do
    if [[ "$word" =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
      line+=" $word"
    else
      line+=" '${word//\'/\'\\\'\'}'"
    fi
  done
  echo "+${line}"
  if [[ "$DRY_RUN" -eq 0 ]]; then
    "$@"
  fi
}

step() { echo "==> $*"; }

cd "$(cd "${BASH_SOURCE[0]%/*}/.." && pwd)"

if [[ "$DRY_RUN" -eq 0 ]]; then
  for tool in docker kind kubectl; do
    command -v "$tool" >/dev/null || { echo "kind-up: $tool is not on PATH (see docs/KUBERNETES.md, Prerequisites)" >&2; exit 1; }
  done
fi

step "Step 1: kind cluster ${CLUSTER}"
[[ "$DRY_RUN" -eq 1 ]] && echo "# only when the cluster does not exist yet"
if [[ "$DRY_RUN" -eq 1 ]] || ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  if [[ "$PRODUCTION" -eq 1 ]]; then run kind create cluster --config kind-mcp-cluster-production.yaml; else run kind create cluster --config kind-mcp-cluster.yaml; fi
else
  echo "cluster ${CLUSTER} exists, reusing it"
fi

step "Step 4: build ${IMAGE}"
run docker build -t "$IMAGE" .

step "Step 5: load ${IMAGE} into the cluster"
run kind load docker-image "$IMAGE" --name "$CLUSTER"

step "metrics-server for kubectl top"
run kubectl --context "$CONTEXT" apply -f "$METRICS_SERVER_URL"
[[ "$DRY_RUN" -eq 1 ]] && echo "# only when the flag is not there yet"
if [[ "$DRY_RUN" -eq 1 ]] || ! kubectl --context "$CONTEXT" -n kube-system get deployment metrics-server \
  -o jsonpath='{.spec.template.spec.containers[0].args}' | grep -q -- --kubelet-insecure-tls; then
  run kubectl --context "$CONTEXT" -n kube-system patch deployment metrics-server --type=json -p "$METRICS_SERVER_PATCH"
fi

# --production: the overlay instead of Steps 6-9 (docs/KUBERNETES.md, "Production overlay").
if [[ "$PRODUCTION" -eq 1 ]]; then
  step "Production overlay: k8s/overlays/production"
  rendered="${TMPDIR:-/tmp}/ai-ml-lab-2-2-production.yaml"
  existed=0
  if [[ "$DRY_RUN" -eq 0 ]] && kubectl --context "$CONTEXT" -n "$NAMESPACE" get deployment/otel-gateway >/dev/null 2>&1; then existed=1; fi
  if [[ "$DRY_RUN" -eq 0 ]] && ! kubectl --context "$CONTEXT" get nodes -l '!node-role.kubernetes.io/control-plane' -o name | grep -q .; then
    echo "note: ${CLUSTER} has no worker nodes, so every pod shares one node; for the 3-worker cluster: npm run kind:down first"
  fi
  run kubectl kustomize --load-restrictor=LoadRestrictionsNone k8s/overlays/production -o "$rendered"
  run kubectl --context "$CONTEXT" apply -f "$rendered"
  # The guide's single Collector, if a plain kind:up ran before: the agents and gateways replace it.
  run kubectl --context "$CONTEXT" -n "$NAMESPACE" delete deployment/otel-collector networkpolicy/otel-collector configmap/otel-collector-config --ignore-not-found
  if [[ "$DRY_RUN" -eq 1 || "$existed" -eq 1 ]]; then
    # Stable ConfigMap names and the tag v1 mean `apply` changes no pod template: restart for new configs and image.
    [[ "$DRY_RUN" -eq 1 ]] && echo "# only when the overlay was applied before"
    run kubectl --context "$CONTEXT" -n "$NAMESPACE" rollout restart daemonset/otel-agent deployment/otel-gateway deployment/ai-lab-2-2-paid
  fi
  run kubectl --context "$CONTEXT" -n "$NAMESPACE" rollout status --timeout="$WAIT_TIMEOUT" daemonset/otel-agent
  run kubectl --context "$CONTEXT" -n "$NAMESPACE" rollout status --timeout="$WAIT_TIMEOUT" deployment/otel-gateway
  run kubectl --context "$CONTEXT" -n "$NAMESPACE" rollout status --timeout="$WAIT_TIMEOUT" deployment/ai-lab-2-2-paid
  run kubectl --context "$CONTEXT" -n kube-system rollout status --timeout="$WAIT_TIMEOUT" deployment/metrics-server
  run kubectl --context "$CONTEXT" get pods,svc,hpa,pdb -n "$NAMESPACE" -o wide
  echo "==> Ready. kubectl port-forward -n ${NAMESPACE} svc/ai-lab-2-2-paid 9002:9000"
  exit 0
fi

step "Steps 6-8: namespace, Collector configuration, Collector"
run kubectl --context "$CONTEXT" apply -f k8s/namespace.yaml
run kubectl --context "$CONTEXT" apply -f k8s/collector-config.yaml
run kubectl --context "$CONTEXT" apply -f k8s/collector-deployment.yaml
run kubectl --context "$CONTEXT" apply -f k8s/networkpolicy.yaml
run kubectl --context "$CONTEXT" wait --for=condition=available --timeout="$WAIT_TIMEOUT" deployment/otel-collector -n "$NAMESPACE"

step "Step 9: the inference service"
app_existed=0
if [[ "$DRY_RUN" -eq 0 ]] && kubectl --context "$CONTEXT" -n "$NAMESPACE" get deployment/ai-lab-2-2-paid >/dev/null 2>&1; then
  app_existed=1
fi
run kubectl --context "$CONTEXT" apply -f k8s/deployment.yaml
run kubectl --context "$CONTEXT" apply -f k8s/service.yaml
if [[ "$DRY_RUN" -eq 1 || "$app_existed" -eq 1 ]]; then
  # On a second run the rebuilt image keeps the tag v1, so `apply` changes nothing: restart to use the new image.
  [[ "$DRY_RUN" -eq 1 ]] && echo "# next two only when the Deployment already existed"
  run kubectl --context "$CONTEXT" rollout restart deployment/ai-lab-2-2-paid -n "$NAMESPACE"
  run kubectl --context "$CONTEXT" rollout status --timeout="$WAIT_TIMEOUT" deployment/ai-lab-2-2-paid -n "$NAMESPACE"
fi
run kubectl --context "$CONTEXT" wait --for=condition=available --timeout="$WAIT_TIMEOUT" deployment/ai-lab-2-2-paid -n "$NAMESPACE"

if [[ "$WITH_OBSERVABILITY" -eq 1 ]]; then
  step "Observability stack: k8s/overlays/observability"
  # The overlay lists the guide's files from outside its folder, so kustomize needs the load restrictor lifted,
  # which `kubectl apply -k` cannot do: render to a file, then apply it.
  rendered="$(mktemp -t observability-XXXXXX.yaml)"
  trap 'rm -f "$rendered"' EXIT
  run kubectl kustomize --load-restrictor=LoadRestrictionsNone -o "$rendered" k8s/overlays/observability
  run kubectl --context "$CONTEXT" apply -f "$rendered"
  # The ConfigMaps keep their names, so a changed configuration file does not roll the pods by itself.
  run kubectl --context "$CONTEXT" rollout restart deployment/otel-collector deployment/jaeger deployment/prometheus deployment/grafana -n "$NAMESPACE"
  for deployment in otel-collector ai-lab-2-2-paid jaeger prometheus grafana; do
    run kubectl --context "$CONTEXT" rollout status --timeout="$WAIT_TIMEOUT" "deployment/${deployment}" -n "$NAMESPACE"
  done
fi

step "Step 10: verify"
run kubectl --context "$CONTEXT" -n kube-system rollout status --timeout="$WAIT_TIMEOUT" deployment/metrics-server
run kubectl --context "$CONTEXT" get pods,svc -n "$NAMESPACE"

cat <<NEXT
==> Ready. Step 12, in another terminal:
  kubectl port-forward -n ${NAMESPACE} svc/ai-lab-2-2-paid 9002:9000
  curl http://localhost:9002/health
NEXT
if [[ "$WITH_OBSERVABILITY" -eq 1 ]]; then
  cat <<UIS
==> The UIs (docs/OBSERVABILITY.md), each in its own terminal:
  kubectl port-forward -n ${NAMESPACE} svc/grafana 3000:3000      # http://localhost:3000
  kubectl port-forward -n ${NAMESPACE} svc/jaeger 16686:16686     # http://localhost:16686
  kubectl port-forward -n ${NAMESPACE} svc/prometheus 9090:9090   # http://localhost:9090
UIS
fi
