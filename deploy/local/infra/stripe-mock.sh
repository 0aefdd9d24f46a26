# shellcheck shell=bash
# Sourced by infra.sh: stripe-mock, Stripe's official API mock (answers from Stripe's OpenAPI
# spec and fixtures; stateless), built from the Go module proxy into .cache/bin.
# Needs CACHE, RUN, say/die and infra/processes.sh.

STRIPE_MOCK_VERSION="v0.203.0"
STRIPE_MOCK_PORT="${STRIPE_MOCK_PORT:-12111}"
STRIPE_MOCK_BIN="$CACHE/bin/stripe-mock"
STRIPE_DIR="$RUN/stripe"
STRIPE_PID="$STRIPE_DIR/stripe-mock.pid"
STRIPE_LOG="$STRIPE_DIR/stripe-mock.log"
STRIPE_PORTFILE="$STRIPE_DIR/stripe-mock.port"

ensure_stripe_mock_bin() {
  if [[ -x "$STRIPE_MOCK_BIN" && "$(cat "$STRIPE_MOCK_BIN.stamp" 2>/dev/null)" == "$STRIPE_MOCK_VERSION" ]]; then
    return 0
  fi
  command -v go >/dev/null || die "go not found: run deploy/local/bootstrap.sh"
  say "building stripe-mock $STRIPE_MOCK_VERSION into $STRIPE_MOCK_BIN (first run: ~1 min)"
  mkdir -p "$CACHE/bin"
  if ! GOMODCACHE="$CACHE/go-mod" GOCACHE="$CACHE/go-build" GOBIN="$CACHE/bin" CGO_ENABLED=0 \
    go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION" >"$CACHE/stripe-mock-build.log" 2>&1; then
    tail -n 20 "$CACHE/stripe-mock-build.log" >&2
    die "stripe-mock did not build (log: $CACHE/stripe-mock-build.log)"
  fi
  echo "$STRIPE_MOCK_VERSION" >"$STRIPE_MOCK_BIN.stamp"
}

start_stripe() {
  if [[ -n "${STRIPE_MOCK_URL:-}" ]]; then
    say "stripe: using STRIPE_MOCK_URL=$STRIPE_MOCK_URL"
    return 0
  fi
  if pid_of "$STRIPE_PID" stripe-mock >/dev/null; then
    say "stripe: already running on 127.0.0.1:$STRIPE_MOCK_PORT"
    return 0
  fi
  ensure_stripe_mock_bin
  mkdir -p "$STRIPE_DIR"
  port_open "$STRIPE_MOCK_PORT" && die "port $STRIPE_MOCK_PORT is taken (STRIPE_MOCK_PORT chooses another)"
  launch "$STRIPE_LOG" "$STRIPE_PID" "$STRIPE_MOCK_BIN" -http-addr "127.0.0.1:$STRIPE_MOCK_PORT"
  echo "$STRIPE_MOCK_PORT" >"$STRIPE_PORTFILE"
  wait_port stripe-mock "$STRIPE_MOCK_PORT" "$(cat "$STRIPE_PID")" "$STRIPE_LOG" 30
  say "stripe: stripe-mock running on 127.0.0.1:$STRIPE_MOCK_PORT"
}

check_stripe() {
  local url="${STRIPE_MOCK_URL:-http://127.0.0.1:$STRIPE_MOCK_PORT}"
  if ! "$PY" - "$url" <<'PYEOF'
import sys, urllib.request
request = urllib.request.Request(sys.argv[1] + "/v1/balance", headers={"Authorization": "Bearer sk_test_123"})
with urllib.request.urlopen(request, timeout=5) as answer:
    assert answer.status == 200
PYEOF
  then
    die "stripe-mock at $url does not answer GET /v1/balance"
  fi
  say "stripe_check: stripe-mock at $url answers GET /v1/balance"
}
