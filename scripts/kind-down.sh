#!/usr/bin/env bash
# Cleanup (`npm run kind:down`): deletes the kind cluster mcp-cluster and everything in it.
#   --dry-run   print the command instead of running it
set -euo pipefail

readonly CLUSTER=mcp-cluster

DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    -h | --help)
      sed -n '2,3p' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *)
      echo "kind-down: unknown argument: $arg (expected --dry-run or --help)" >&2
      exit 2
      ;;
  esac
done

echo "+ kind delete cluster --name ${CLUSTER}"
if [[ "$DRY_RUN" -eq 0 ]]; then
  command -v kind >/dev/null || { echo "kind-down: kind is not on PATH" >&2; exit 1; }
  kind delete cluster --name "$CLUSTER"
fi
