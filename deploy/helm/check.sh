#!/usr/bin/env bash
# The Helm chart's checks (`make helm-check`, and the "helm chart" stage of `make test`):
# helm lint with the defaults and each ci/*-values.yaml, helm template with each (a fail-* file
# must be refused), then the tests over the rendered manifests (deploy/helm/tests).
# helm is the one deploy/helm/ensure-helm.sh builds into .cache/bin.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HELM="$REPO/.cache/bin/helm"
CHART="$REPO/deploy/helm/connectflo"
# A helm built by `go install` has no Kubernetes version stamped in (it assumes 1.20): name the
# oldest one the chart supports (Chart.yaml kubeVersion), so that is what is checked.
KUBE=(--kube-version 1.25.0)
[[ -x "$HELM" ]] || { echo "helm-check: helm not found at $HELM: run deploy/helm/ensure-helm.sh" >&2; exit 1; }

status=0
"$HELM" lint --strict --quiet "${KUBE[@]}" "$CHART" || status=1
for values in "$CHART"/ci/*-values.yaml; do
  name="$(basename "$values")"
  if [[ "$name" == fail-* ]]; then
    if err="$("$HELM" template ci "$CHART" "${KUBE[@]}" -f "$values" 2>&1 >/dev/null)"; then
      echo "helm-check: $name rendered, but it must be refused" >&2
      status=1
    else
      echo "helm-check: $name refused as intended: $(grep -m1 "^Error" <<<"$err")"
    fi
  elif "$HELM" lint --strict --quiet "${KUBE[@]}" "$CHART" -f "$values" &&
    "$HELM" template ci "$CHART" "${KUBE[@]}" -f "$values" >/dev/null; then
    echo "helm-check: $name: lint and template ok"
  else
    echo "helm-check: $name FAILED" >&2
    status=1
  fi
done
"$REPO/.venv/bin/pytest" "$REPO/deploy/helm/tests" -q -p no:cacheprovider || status=1
exit "$status"
