#!/usr/bin/env bash
# Helm 3 for the chart's checks (deploy/helm/check.sh), built from its Go module into
# .cache/bin (Go 1.26+), once per version: the stamp makes a second run instant. The first
# build takes ~3.5 min on 2 cores, so `make test` starts it in the background with the static
# checks and waits for it before the "helm chart" stage; `make up` never needs it.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HELM_VERSION=v3.21.4
HELM_BIN="$REPO/.cache/bin/helm"
if [[ -x "$HELM_BIN" && "$(cat "$HELM_BIN.stamp" 2>/dev/null)" == "$HELM_VERSION" ]]; then
  exit 0
fi
echo "ensure-helm: building helm $HELM_VERSION into $HELM_BIN (first run: ~3.5 min on 2 cores)"
mkdir -p "$REPO/.cache/bin"
if ! GOMODCACHE="$REPO/.cache/go-mod" GOCACHE="$REPO/.cache/go-build" GOBIN="$REPO/.cache/bin" \
  GOFLAGS=-modcacherw CGO_ENABLED=0 nice -n 10 go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
  >"$REPO/.cache/helm-build.log" 2>&1; then
  tail -n 20 "$REPO/.cache/helm-build.log" >&2
  echo "ensure-helm: helm did not build (log: $REPO/.cache/helm-build.log)" >&2
  exit 1
fi
echo "$HELM_VERSION" >"$HELM_BIN.stamp"
echo "ensure-helm: helm $HELM_VERSION ready"
