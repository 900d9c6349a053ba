#!/usr/bin/env bash
# Exports a campaign of ROWS recipients (default 1,000,000), every one sent
# with its own frozen request and reported, as CSV through `herald serve`
# (`herald campaigns export ID > out.csv`), on SQLite and PostgreSQL (and
# MariaDB/MySQL when named). Prints the seconds of the export, rows/s, the
# server's peak RSS (VmHWM) over seeding-free serving and the export, and
# the latency of a phone lookup (GET …/recipients?phone=) on that campaign.
#   bench/export.sh [ROWS] [ENGINES]     ENGINES: default "sqlite postgres";
#                                        any of sqlite, postgres, mariadb
# BATCH (default 1) is the number of recipients per frozen request: 1 is
# serve's default --batch-size, each with an LMS fallback leg; 100 makes
# requests the provider renders. PostgreSQL's statistics are refreshed
# (ANALYZE) after seeding, as autovacuum does after a bulk load.
# The campaign is made by bench/exportseed through the Store API (members,
# preparation, claims, frozen requests, outcomes, reports), not timed here.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
batch=${BATCH:-1}
engines=${2:-sqlite postgres}
my=${HERALD_BENCH_MYSQL:-mysql://root@127.0.0.1:3306}
mycli=${HERALD_BENCH_MYSQL_CLI:-"$(command -v mariadb || command -v mysql || echo mariadb) -uroot -h127.0.0.1"}
pg=${HERALD_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
tmp=$(mktemp -d)
schema=bench_export_$$
cleanup() {
	kill $(jobs -p) 2>/dev/null || true
	[[ " $engines " == *" postgres "* ]] && psql "$pg" -qc "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null
	[[ " $engines " == *" mariadb "* || " $engines " == *" mysql "* ]] && $mycli -e "DROP DATABASE IF EXISTS $schema"
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/herald" ./cmd/herald
go build -o "$tmp/exportseed" ./bench/exportseed
token=bench-admin-token-0123456789

dbs=()
for e in $engines; do
	case $e in
	sqlite) dbs+=("sqlite:$tmp/export.db") ;;
	postgres)
		psql "$pg" -qc "CREATE SCHEMA $schema" >/dev/null
		dbs+=("${pg}&search_path=$schema") ;;
	mariadb | mysql)
		$mycli -e "CREATE DATABASE $schema"
		dbs+=("$my/$schema") ;;
	*) echo "engine: sqlite, postgres or mariadb, not $e" >&2; exit 2 ;;
	esac
done

results=()
for db in "${dbs[@]}"; do
	echo "seeding ${db%%:*} with $rows sent and reported recipients…" >&2
	id=$("$tmp/exportseed" -db "$db" -n "$rows" -batch "$batch")
	[[ $db == postgres* ]] && psql "$pg" -qc "ANALYZE $schema.recipients; ANALYZE $schema.requests; ANALYZE $schema.reports"
	port=$((18000 + RANDOM % 1000))
	"$tmp/herald" serve --db "$db" --listen "127.0.0.1:$port" --admin-token "$token" --log-level warn &
	pid=$!
	for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
	start=$(date +%s.%N)
	"$tmp/herald" campaigns export "$id" --server "http://127.0.0.1:$port" --token "$token" >"$tmp/out.csv"
	end=$(date +%s.%N)
	rss=$(awk '/VmHWM/ {printf "%.0f MB", $2/1024}' "/proc/$pid/status")
	got=$(($(wc -l <"$tmp/out.csv") - 1 - rows)) # each message holds one line break
	[[ $got == "$rows" ]] || { echo "exported $got rows, want $rows" >&2; exit 1; }
	size=$(du -h "$tmp/out.csv" | cut -f1)
	phone=$(printf '010%08d' $((rows / 2)))
	lookup=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" \
		"http://127.0.0.1:$port/v1/campaigns/$id/recipients?phone=$phone")
	kill "$pid"; wait "$pid" 2>/dev/null || true
	results+=("$(awk -v s="$start" -v e="$end" -v n="$rows" -v db="${db%%:*}" -v rss="$rss" -v size="$size" -v l="$lookup" -v b="$batch" \
		'BEGIN { printf "| %s | %d | %d | %s | %.1f | %.0f | %s | %.0f ms |", db, n, b, size, e - s, n / (e - s), rss, l * 1000 }')")
	echo "${results[-1]}" >&2
done
printf '\n| store | rows | per request | CSV size | export seconds | rows/s | peak RSS of serve | phone lookup |\n|---|---|---|---|---|---|---|---|\n'
printf '%s\n' "${results[@]}"
