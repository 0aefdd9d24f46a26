#!/usr/bin/env bash
# What a fresh Debian 12 machine needs before anything else in this repo:
#   uv 0.13.8 (pip), Java 17+, Maven, Go, Chromium and Prometheus (apt, only when missing), the
#   AsyncAPI 3.0.0 JSON Schema (npm, into .cache), then the workspace venv (`uv sync
#   --all-packages --frozen`, cache in .cache/uv). Helm is built only for its checks
#   (deploy/helm/ensure-helm.sh: `make helm-check`, `make test`).
# Idempotent and quiet when everything is already there.
#
# Usage: deploy/local/bootstrap.sh [--infra]
#   --infra  also resolve the Kafka jars and build FerretDB now (deploy/local/infra.sh fetch),
#            so that the first `infra.sh start` does not pay for it (~2.5 min cold on 2 cores).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || true)"
if [[ -z "$REPO" || ! -f "$REPO/deploy/local/bootstrap.sh" ]]; then
  REPO="$(cd "$HERE/../.." && pwd)"
fi

UV_VERSION=0.13.8
GO_MIN=1.24 # deploy/local/ferretdb/go.mod

say() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null && SUDO="sudo"
fi

apt_updated=""
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  if [[ -z "$apt_updated" ]]; then
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# version_ge A B: true when version A >= version B (dotted numbers).
version_ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" == "$2" ]]; }

# --- uv ---------------------------------------------------------------------------------------
UV=(uv)
if ! command -v uv >/dev/null; then
  command -v python3 >/dev/null || apt_install python3
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  say "installing uv==$UV_VERSION with pip"
  # Debian's system Python is "externally managed" (PEP 668): pip then needs the explicit flag.
  python3 -m pip install -q "uv==$UV_VERSION" 2>/dev/null ||
    python3 -m pip install -q --break-system-packages "uv==$UV_VERSION"
  hash -r
  # pip may have put the binary outside PATH (~/.local/bin, a pyenv version dir): use the module.
  command -v uv >/dev/null || UV=(python3 -m uv)
fi
have_uv="$("${UV[@]}" --version | awk '{print $2}')"
[[ "$have_uv" == "$UV_VERSION" ]] ||
  say "warning: uv $have_uv found, the project pins $UV_VERSION (python3 -m pip install uv==$UV_VERSION)"

# --- Java 17+, Maven, Go ------------------------------------------------------------------------
java_major() {
  java -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java.specification.version = //p' | cut -d. -f1
}
if ! command -v java >/dev/null || [[ "$(java_major)" -lt 17 ]]; then
  apt_install openjdk-17-jre-headless
fi
[[ "$(java_major)" -ge 17 ]] || die "Java 17+ needed for Kafka 4.x, found $(java_major) (check update-alternatives --config java)"

command -v mvn >/dev/null || apt_install maven

command -v go >/dev/null || apt_install golang
go_version="$(go env GOVERSION 2>/dev/null | sed 's/^go//')"
if ! version_ge "${go_version:-0}" "$GO_MIN"; then
  # Go >= 1.21 fetches the toolchain named by go.mod by itself (GOTOOLCHAIN=auto); older ones can't.
  if version_ge "${go_version:-0}" 1.21 && [[ "$(go env GOTOOLCHAIN)" != local ]]; then
    say "go $go_version found; the FerretDB build will switch to go $GO_MIN+ by itself (GOTOOLCHAIN)"
  else
    die "go $GO_MIN+ needed to build FerretDB, found '${go_version:-none}' (Debian 12's golang is 1.19: use a newer Go, e.g. golang-1.2x from bookworm-backports, first on PATH)"
  fi
fi

# --- Chromium: the chat page's browser test (tests-e2e/test_chat_page.py) ----------------------
# Debian's package, which Playwright (dev group) drives by executable_path: Playwright downloads
# no browser of its own. Its .debs are kept in .cache/apt, so a reinstall downloads nothing.
if ! command -v chromium >/dev/null; then
  mkdir -p "$REPO/.cache/apt/partial"
  if id _apt >/dev/null 2>&1; then $SUDO chown _apt "$REPO/.cache/apt/partial"; fi
  apt_install -o "Dir::Cache::Archives=$REPO/.cache/apt" chromium
fi

# --- the AsyncAPI 3.0.0 JSON Schema: libs/contracts/tests/test_asyncapi.py checks docs/asyncapi.json
# with it. The npm package @asyncapi/specs (Apache-2.0) by npm, the tarball checked against its
# digest; only the schema and the licence are kept, in .cache (the test fails without them).
ASYNCAPI_SPECS=6.11.1 # also in test_asyncapi.py
ASYNCAPI_SPECS_SHA256=01af8744dc33c0c7eb2e908f6a955319ee58b70ecadc9387d1aeb16c0cd28928
asyncapi_dir="$REPO/.cache/asyncapi-specs-$ASYNCAPI_SPECS"
if [[ ! -f "$asyncapi_dir/3.0.0.json" ]]; then
  command -v npm >/dev/null || apt_install npm
  say "fetching @asyncapi/specs@$ASYNCAPI_SPECS (the AsyncAPI 3.0.0 JSON Schema)"
  packed="$(mktemp -d)"
  (cd "$packed" && npm pack --silent "@asyncapi/specs@$ASYNCAPI_SPECS" >/dev/null)
  tarball="$packed/asyncapi-specs-$ASYNCAPI_SPECS.tgz"
  echo "$ASYNCAPI_SPECS_SHA256  $tarball" | sha256sum --check --quiet ||
    die "@asyncapi/specs@$ASYNCAPI_SPECS does not have the expected digest"
  tar -xzf "$tarball" -C "$packed" package/LICENSE package/schemas/3.0.0.json
  mkdir -p "$asyncapi_dir"
  mv "$packed/package/LICENSE" "$asyncapi_dir/LICENSE"
  mv "$packed/package/schemas/3.0.0.json" "$asyncapi_dir/3.0.0.json" # last: its presence means done
  rm -rf "$packed"
fi

# --- Prometheus and promtool: the metrics of `make up` and `make test`, the alert rules' tests ----
# Debian's package (2.42), its .debs kept in .cache/apt like Chromium's. Started by infra.sh, never
# as the package's own service: its recommends (node exporter, ...) are not needed.
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  mkdir -p "$REPO/.cache/apt/partial"
  if id _apt >/dev/null 2>&1; then $SUDO chown _apt "$REPO/.cache/apt/partial"; fi
  apt_install -o "Dir::Cache::Archives=$REPO/.cache/apt" --no-install-recommends prometheus
  # Under systemd the package starts its own server on *:9090, where infra.sh starts ours.
  if [[ -d /run/systemd/system ]]; then $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
fi

# --- the workspace venv --------------------------------------------------------------------------
cd "$REPO"
UV_CACHE_DIR="$REPO/.cache/uv" "${UV[@]}" sync --all-packages --frozen --quiet

if [[ "${1:-}" == "--infra" ]]; then
  "$HERE/infra.sh" fetch
fi
