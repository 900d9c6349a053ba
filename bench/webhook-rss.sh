#!/usr/bin/env bash
# Memory under a provider that posts every report on a connection of its
# own, as fast as it can, retrying what is refused (429/503):
# ingest/rss_test.go's TestRSSConnectionPerReport at scale. Fails if
# serve's peak RSS passes 256 MB or any report does not land.
#
#   bench/webhook-rss.sh                       # 30,000 reports, 3,000 at once
#   REPORTS=60000 CONCURRENCY=4000 bench/webhook-rss.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HERALD_RSS_REPORTS=${REPORTS:-30000} HERALD_RSS_CONCURRENCY=${CONCURRENCY:-3000} \
	go test -count=1 -run '^TestRSSConnectionPerReport$' -v -timeout 20m ./ingest 2>&1 |
	grep -E 'rss_test|^(--- |ok|FAIL|PASS)' || true
