#!/usr/bin/env bash
# Report webhook throughput: runs BenchmarkIngest (ingest/bench_test.go) for
# each store and configuration at several client concurrencies, and prints
# one row per run plus, per configuration, the highest rate whose p99 stays
# within 50 ms with no error ("sustained").
#
#   bench/ingest.sh                 # everything (about 10 minutes)
#   CASES='sqlite/batch=500' bench/ingest.sh
#   N=200000 CONCS='128 256' bench/ingest.sh
#
# Needs PostgreSQL for the postgres cases (HERALD_TEST_POSTGRES, default
# postgres://postgres@127.0.0.1:5432/test). MariaDB/MySQL cases
# (HERALD_TEST_MYSQL, default mysql://root@127.0.0.1:3306/) run when named:
#   CASES='mariadb/batch=500/committers=1 mariadb/batch=1/committers=1' bench/ingest.sh
# (for them pg-cpu-ms/1k is the local mariadbd's CPU). The load generator runs in the
# same process as the server, on the same cores. cpu-ms/1k is this
# process's CPU (server and load generator) per 1,000 reports;
# pg-cpu-ms/1k that of the PostgreSQL backends serving the store;
# other-cores is the CPU other work on the host took meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."

CASES=${CASES:-'sqlite/batch=500/committers=1 postgres/batch=500/committers=1 postgres/batch=500/committers=2 sqlite/batch=1/committers=1 postgres/batch=1/committers=1 postgres/batch=1/committers=8'}
CONCS=${CONCS:-'64 128 256 384'}
CONCS_BATCH1=${CONCS_BATCH1:-'8 32'}
N=${N:-100000}
N_BATCH1=${N_BATCH1:-20000}
P99_LIMIT=${P99_LIMIT:-50}

bin=$(mktemp -d)/ingest.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./ingest

# metric LINE UNIT prints the value reported with UNIT in a benchmark line.
metric() { awk -v unit="$2" '{ for (i = 2; i <= NF; i++) if ($i == unit) { print $(i-1); exit } }' <<<"$1"; }

printf '%-36s %5s %10s %7s %7s %6s %9s %12s %8s %9s %6s\n' \
	case conc reports/s p50-ms p99-ms errors cpu-ms/1k pg-cpu-ms/1k batch commit-ms other
summary=()
for c in $CASES; do
	concs=$CONCS n=$N
	if [[ $c == */batch=1/* ]]; then concs=$CONCS_BATCH1 n=$N_BATCH1; fi
	best=0 bestconc=-
	for conc in $concs; do
		line=$(cd ingest && HERALD_BENCH_CONC=$conc "$bin" -test.run '^$' -test.bench "^BenchmarkIngest/${c}\$" \
			-test.benchtime "${n}x" 2>&1 | grep '^BenchmarkIngest' || true)
		if [[ -z $line ]]; then
			printf '%-36s %5s  (no result; PostgreSQL unreachable?)\n' "$c" "$conc"
			continue
		fi
		rate=$(metric "$line" reports/s) p50=$(metric "$line" p50-ms) p99=$(metric "$line" p99-ms)
		errs=$(metric "$line" errors) cpu=$(metric "$line" cpu-ms/1k) pg=$(metric "$line" pg-cpu-ms/1k)
		batch=$(metric "$line" reports/batch) commit=$(metric "$line" commit-ms) other=$(metric "$line" other-cores)
		printf '%-36s %5s %10.0f %7.1f %7.1f %6s %9.1f %12s %8.1f %9.2f %6.2f\n' \
			"$c" "$conc" "$rate" "$p50" "$p99" "$errs" "$cpu" "${pg:--}" "$batch" "$commit" "${other:-0}"
		if awk -v p="$p99" -v e="$errs" -v r="$rate" -v b="$best" -v l="$P99_LIMIT" \
			'BEGIN { exit !(p <= l && e == 0 && r > b) }'; then
			best=$rate bestconc=$conc
		fi
	done
	summary+=("$(printf '%-36s %10.0f reports/s (concurrency %s)' "$c" "$best" "$bestconc")")
done
echo
echo "sustained: highest rate with p99 <= ${P99_LIMIT} ms and no error"
printf '%s\n' "${summary[@]}"
