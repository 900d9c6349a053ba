#!/usr/bin/env bash
# Imports ROWS generated members (default 1,000,000) from CSV through
# `herald serve`'s REST API into SQLite and PostgreSQL, and prints rows/s and
# the server's peak RSS (VmHWM) for each.
#   bench/import.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
pg=${HERALD_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/herald" ./cmd/herald
token=bench-admin-token-0123456789

awk -v n="$rows" 'BEGIN {
	print "id,phone,name,grade,city"
	split("gold silver bronze", g, " "); split("서울 부산 대구 인천 광주", c, " ")
	for (i = 0; i < n; i++) printf "m%08d,010%08d,회원%d,%s,%s\n", i, i, i, g[i%3+1], c[i%5+1]
}' >"$tmp/members.csv"
echo "generated $rows rows ($(du -h "$tmp/members.csv" | cut -f1))"

schema=bench_import_$$
psql "$pg" -qc "CREATE SCHEMA $schema" >/dev/null
trap 'kill $(jobs -p) 2>/dev/null || true; psql "$pg" -qc "SET client_min_messages = warning; DROP SCHEMA IF EXISTS '$schema' CASCADE" >/dev/null; rm -rf "$tmp"' EXIT

printf '\n| store | rows | seconds | rows/s | peak RSS of serve |\n|---|---|---|---|---|\n'
for db in "sqlite:$tmp/import.db" "${pg}&search_path=$schema"; do
	port=$((18000 + RANDOM % 1000))
	"$tmp/herald" serve --db "$db" --listen "127.0.0.1:$port" --admin-token "$token" --log-level warn &
	pid=$!
	for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
	start=$(date +%s.%N)
	"$tmp/herald" members import "$tmp/members.csv" --server "http://127.0.0.1:$port" --token "$token" >"$tmp/result.txt"
	end=$(date +%s.%N)
	rss=$(awk '/VmHWM/ {print $2/1024 " MB"}' "/proc/$pid/status")
	kill "$pid"; wait "$pid" 2>/dev/null || true
	awk -v s="$start" -v e="$end" -v n="$rows" -v db="${db%%:*}" -v rss="$rss" \
		'BEGIN { printf "| %s | %d | %.1f | %.0f | %s |\n", db, n, e - s, n / (e - s), rss }'
done
