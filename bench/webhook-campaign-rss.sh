#!/usr/bin/env bash
# Memory of `herald serve` in the real scenario (e2e/rss_test.go's
# TestCampaignRSS at full size): one campaign sent as fast as herald can
# (--tps 0, batches of 100) to `herald mock-provider`, which posts every
# report 50 ms after acceptance on a TCP connection of its own
# (--report-new-connection), 3,000 at once, and posts a refused one
# (429/503) again after its Retry-After until it lands (--report-retries
# -1). serve's VmRSS is sampled every 100 ms (and VmHWM read at the end).
# Prints recipients, send rate, reports posted/refused/posted again (the
# mock's stats), reports committed (serve's /metrics), peak RSS; fails if
# the peak passes 256 MB or any recipient lacks its report.
#
#   bench/webhook-campaign-rss.sh                    # 100,000 recipients, SQLite
#   ENGINE=postgres bench/webhook-campaign-rss.sh    # its own schema on HERALD_TEST_POSTGRES
#   RECIPIENTS=20000 CONCURRENCY=1000 bench/webhook-campaign-rss.sh
#   DEBUG_LISTEN=127.0.0.1:6060 bench/webhook-campaign-rss.sh   # serve's pprof, for /debug/pprof/heap
set -euo pipefail
cd "$(dirname "$0")/.."
export HERALD_CAMPAIGN_RSS_RECIPIENTS=${RECIPIENTS:-100000}
export HERALD_CAMPAIGN_RSS_CONCURRENCY=${CONCURRENCY:-3000}
export HERALD_CAMPAIGN_RSS_ENGINE=${ENGINE:-sqlite}
export HERALD_CAMPAIGN_RSS_BATCH_SIZE=${BATCH_SIZE:-100}
export HERALD_CAMPAIGN_RSS_REPORT_DELAY=${REPORT_DELAY:-50ms}
export HERALD_CAMPAIGN_RSS_LIMIT_MB=${LIMIT_MB:-256}
export HERALD_CAMPAIGN_RSS_DEBUG_LISTEN=${DEBUG_LISTEN:-}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "campaign RSS: $HERALD_CAMPAIGN_RSS_RECIPIENTS recipients on $HERALD_CAMPAIGN_RSS_ENGINE, $HERALD_CAMPAIGN_RSS_CONCURRENCY reports at once; load: $(uptime)"
status=0
go test -count=1 -run '^TestCampaignRSS$' -v -timeout 40m ./e2e/ >"$log" 2>&1 || status=$?
grep -E 'rss_test\.go|^(--- |ok|FAIL|PASS)' "$log" | sed -E 's/^ +rss_test\.go:[0-9]+: /  /' || true
[ "$status" -eq 0 ] || tail -n 100 "$log" >&2
echo "load after: $(uptime)"
exit "$status"
