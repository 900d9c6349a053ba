#!/usr/bin/env bash
# Pacing at full size (e2e/pacing_test.go): one campaign sent by three
# `herald serve` processes on one PostgreSQL database through a mock that
# does not limit (so it measures what herald sends, at arrival; answers
# 30 ms ± 25 ms), batches of 10:
#   TestPacingThreeServesRedis     one limit shared in Redis
#   TestPacingRedisKillAndOutage   one serve SIGKILLed and restarted, then Redis stopped for a while
#   TestPacingLeadershipNoRedis    no Redis: one leader sends; SIGKILL it, a standby takes over
# and prints what each logs: counts, highest 1-s window, steady rate,
# per-second counts at the provider, takeover time.
#
#   bench/pacing.sh                      # 30000 recipients at 300 TPS, Redis down 10 s
#   RECIPIENTS=6000 TPS=200 bench/pacing.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export HERALD_PACING_RECIPIENTS=${RECIPIENTS:-30000}
export HERALD_PACING_TPS=${TPS:-300}
export HERALD_PACING_REDIS_OUTAGE_S=${OUTAGE:-10}
export HERALD_PACING_HEADROOM=${HEADROOM:-0.015} # serve's default
export HERALD_PACING_ASSERT_STEADY=1 # steady ≥ 98% of the limit with three serves and Redis
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "pacing: $HERALD_PACING_RECIPIENTS recipients at $HERALD_PACING_TPS TPS, Redis outage ${HERALD_PACING_REDIS_OUTAGE_S}s"
status=0
go test -count=1 -run '^TestPacing' -v -parallel 1 -timeout 30m ./e2e/ >"$log" 2>&1 || status=$?
grep -E 'pacing_test\.go|^(--- |ok|FAIL|PASS)' "$log" | sed -E 's/^ +pacing_test\.go:[0-9]+: /  /' || true
[ "$status" -eq 0 ] || tail -n 100 "$log" >&2
exit "$status"
