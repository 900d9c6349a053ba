#!/usr/bin/env bash
# Imports ROWS generated members (default 1,000,000) from CSV through
# `herald serve`'s REST API into SQLite and PostgreSQL (and MariaDB/MySQL
# when named), and prints rows/s and the server's peak RSS (VmHWM) for each.
#   bench/import.sh [ROWS] [ENGINES]     ENGINES: default "sqlite postgres";
#                                        any of sqlite, postgres, mariadb
# mariadb uses HERALD_BENCH_MYSQL (default mysql://root@127.0.0.1:3306) and
# HERALD_BENCH_MYSQL_CLI (default: mariadb -uroot -h127.0.0.1) to make and
# drop a database of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
engines=${2:-sqlite postgres}
my=${HERALD_BENCH_MYSQL:-mysql://root@127.0.0.1:3306}
mycli=${HERALD_BENCH_MYSQL_CLI:-"$(command -v mariadb || command -v mysql || echo mariadb) -uroot -h127.0.0.1"}
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
dbs=()
for e in $engines; do
	case $e in
	sqlite) dbs+=("sqlite:$tmp/import.db") ;;
	postgres)
		psql "$pg" -qc "CREATE SCHEMA $schema" >/dev/null
		dbs+=("${pg}&search_path=$schema") ;;
	mariadb | mysql)
		$mycli -e "CREATE DATABASE $schema"
		dbs+=("$my/$schema") ;;
	*) echo "engine: sqlite, postgres or mariadb, not $e" >&2; exit 2 ;;
	esac
done
cleanup() {
	kill $(jobs -p) 2>/dev/null || true
	[[ " $engines " == *" postgres "* ]] && psql "$pg" -qc "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null
	[[ " $engines " == *" mariadb "* || " $engines " == *" mysql "* ]] && $mycli -e "DROP DATABASE IF EXISTS $schema"
	rm -rf "$tmp"
}
trap cleanup EXIT

printf '\n| store | rows | seconds | rows/s | peak RSS of serve |\n|---|---|---|---|---|\n'
for db in "${dbs[@]}"; do
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
