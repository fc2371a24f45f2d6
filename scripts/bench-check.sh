#!/usr/bin/env bash
# Benchmark `cutover check run` (a plan's reconcile check over two wide CSV file sources
# and a crosswalk source) on SQLite and on Postgres, beside `cutover recon` and DuckDB on
# the same data (the long CSVs `gen-recon` writes), interleaved in one run.
#
# usage: scripts/bench-check.sh [ROWS_PER_SIDE] [RUNS]
#   CUTOVER_BIN  the release binary (default target/release/cutover; `cargo build --release`)
#   BENCH_DIR    where the generated files go (default /tmp/cutover-bench-check-ROWS)
#   PG_URL       Postgres server (default postgres://postgres@127.0.0.1:5432); a database
#                `cutover_bench_check` is dropped and created there for every run.
#                PG_URL=none leaves Postgres out.
#   ONLY         a space-separated subset of: sqlite postgres recon duckdb
# Prints, per tool and run, wall time, peak RSS (/usr/bin/time -v) and how much the
# database grew, then the medians, the machine's load, and whether every tool gave every
# key the same status (sorted `partner,day,metric,status` of every non-matching key).
set -euo pipefail
ROWS=${1:-1000000}
RUNS=${2:-3}
BIN=$(realpath "${CUTOVER_BIN:-target/release/cutover}")
DIR=${BENCH_DIR:-/tmp/cutover-bench-check-$ROWS}
PY=${PYTHON:-python3.11}
PG=${PG_URL:-postgres://postgres@127.0.0.1:5432}
ONLY=${ONLY:-sqlite postgres recon duckdb}
HERE=$(cd "$(dirname "$0")" && pwd)
PGDB=cutover_bench_check
[ "$PG" = none ] && ONLY=${ONLY//postgres/}
want() { [[ " $ONLY " == *" $1 "* ]]; }

if want duckdb && ! $PY -c 'import duckdb' 2>/dev/null; then
  $PY -m pip install -q duckdb || ONLY=${ONLY//duckdb/}
fi
mkdir -p "$DIR"
if [ ! -f "$DIR/crosswalk.csv" ]; then
  "$BIN" gen-recon --rows "$ROWS" --seed 42 --dir "$DIR"
fi
if [ ! -f "$DIR/window" ]; then
  o=$($PY "$HERE/bench-check-wide.py" "$DIR/old.csv" "$DIR/old_wide.csv")
  n=$($PY "$HERE/bench-check-wide.py" "$DIR/new.csv" "$DIR/new_wide.csv")
  echo "$o $n" | tr ' ' '\n' | sort | sed -n '1p;$p' | paste -sd' ' > "$DIR/window"
fi
read -r FROM TO < "$DIR/window" || true
cat > "$DIR/plan.yaml" <<YAML
migration: bench-check
timezone: UTC
currency: EUR
layers:
  bi: { description: BI }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true }
  - { id: bea, name: Bea, email: bea@example.com, layers: [bi] }
sources:
  - id: old
    system: old
    file: { path: old_wide.csv }
    format: { type: csv }
    empty: missing
    fields: { partner: partner, day: day, currency: currency }
    metrics: { clicks_gross: clicks_gross, clicks_unique: clicks_unique, registrations: registrations, ftd_count: ftd_count, ftd_amount: ftd_amount, qualified_ftd: qualified_ftd, deposits_count: deposits_count, deposits_amount: deposits_amount, withdrawals_amount: withdrawals_amount, purchases: purchases, purchases_amount: purchases_amount, trades: trades, net_revenue: net_revenue, commission: commission }
  - id: new
    system: new
    file: { path: new_wide.csv }
    format: { type: csv }
    empty: missing
    fields: { partner: partner, day: day, currency: currency }
    metrics: { clicks_gross: clicks_gross, clicks_unique: clicks_unique, registrations: registrations, ftd_count: ftd_count, ftd_amount: ftd_amount, qualified_ftd: qualified_ftd, deposits_count: deposits_count, deposits_amount: deposits_amount, withdrawals_amount: withdrawals_amount, purchases: purchases, purchases_amount: purchases_amount, trades: trades, net_revenue: net_revenue, commission: commission }
  - { id: xw, system: new, rows: crosswalk, file: { path: crosswalk.csv }, format: { type: csv }, fields: { old: old_partner_id, new: new_partner_id } }
checks:
  - { id: recon, layer: bi, kind: reconcile, schedule: "0 7 * * *", sources: { old: old, new: new, crosswalk: xw }, params: { tolerance: { abs: 1, rel: 0.01 } } }
phases:
  - id: parallel_validation
    goal: Compare
    owners: [bi]
    exit:
      - { id: recon_ok, check: recon, outcome: pass }
  - id: done
    goal: Done
    owners: [bi]
    exit:
      - { id: settle, min_duration: 1d }
YAML

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/Mem:/{print $2}') GiB RAM"
echo "inputs: long $(wc -l < "$DIR/old.csv") + $(wc -l < "$DIR/new.csv") lines ($(du -sh "$DIR/old.csv" | cut -f1) + $(du -sh "$DIR/new.csv" | cut -f1)); wide $(wc -l < "$DIR/old_wide.csv") + $(wc -l < "$DIR/new_wide.csv") lines ($(du -sh "$DIR/old_wide.csv" | cut -f1) + $(du -sh "$DIR/new_wide.csv" | cut -f1)); window $FROM..$TO"
want duckdb && echo "duckdb $($PY -c 'import duckdb; print(duckdb.__version__)')"

secs() { sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$1" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }'; }
# name, growth in bytes (or -), command...
measure() {
  local name=$1 t="$DIR/$1.time"; shift
  ( cd "$DIR" && /usr/bin/time -v "$@" ) 2> "$t" > "$DIR/$name.out" || true
  local wall rss
  wall=$(secs "$t"); rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$t")
  echo "$name $wall $rss" >> "$DIR/results.txt"
}
growth() { # name bytes
  echo "$1 $2" >> "$DIR/growth.txt"
}
pg_size() { psql -qtA "$PG/$PGDB" -c "select pg_database_size(current_database())"; }

: > "$DIR/results.txt"; : > "$DIR/growth.txt"; : > "$DIR/load.txt"
for i in $(seq 1 "$RUNS"); do
  uptime >> "$DIR/load.txt"
  if want sqlite; then
    rm -f "$DIR/bench.db"*
    export CUTOVER_DATABASE_URL="sqlite://$DIR/bench.db?mode=rwc"
    (cd "$DIR" && "$BIN" start plan.yaml --as lead >/dev/null)
    before=$(stat -c %s "$DIR/bench.db")
    measure check_sqlite "$BIN" check run recon --from "$FROM" --to "$TO"
    growth check_sqlite $(( $(du -cb "$DIR"/bench.db* | tail -1 | cut -f1) - before ))
    unset CUTOVER_DATABASE_URL
  fi
  if want postgres; then
    psql -q "$PG/postgres" -c "drop database if exists $PGDB" -c "create database $PGDB" >/dev/null
    export CUTOVER_DATABASE_URL="$PG/$PGDB"
    (cd "$DIR" && "$BIN" start plan.yaml --as lead >/dev/null)
    before=$(pg_size)
    measure check_postgres "$BIN" check run recon --from "$FROM" --to "$TO"
    growth check_postgres $(( $(pg_size) - before ))
    unset CUTOVER_DATABASE_URL
  fi
  if want recon; then
    measure recon "$BIN" recon --old old.csv --new new.csv --crosswalk crosswalk.csv --abs 1 --rel 0.01 --out recon.csv
  fi
  if want duckdb; then
    measure duckdb $PY "$HERE/recon_duckdb.py" old.csv new.csv crosswalk.csv 1 0.01 duckdb.csv
  fi
  awk -v r="$i" '{a[$1]=$0} END {for (k in a) print "run " r ": " a[k]}' "$DIR/results.txt" | sort >/dev/null
  tail -n "$(echo $ONLY | wc -w)" "$DIR/results.txt" | while read -r n w r; do
    g=$(awk -v n="$n" '$1==n{v=$2} END{print v}' "$DIR/growth.txt")
    printf 'run %d %-15s wall %7.2f s  peak RSS %8.1f MiB  db growth %s\n' "$i" "$n" "$w" "$(echo "$r/1024" | bc -l)" "${g:+$(echo "$g/1048576" | bc -l | xargs printf '%.1f MiB')}"
  done
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for name in check_sqlite check_postgres recon duckdb; do
  grep -q "^$name " "$DIR/results.txt" || continue
  w=$(awk -v n=$name '$1==n{print $2}' "$DIR/results.txt" | median)
  r=$(awk -v n=$name '$1==n{print $3}' "$DIR/results.txt" | median)
  g=$(awk -v n=$name '$1==n{print $2}' "$DIR/growth.txt" | median)
  printf 'median %-15s wall %7.2f s  peak RSS %8.1f MiB%s\n' "$name" "$w" "$(echo "$r/1024" | bc -l)" "${g:+  db growth $(echo "$g/1048576" | bc -l | xargs printf '%.1f') MiB}"
done
echo "load:"; sed 's/^/  /' "$DIR/load.txt"
grep -h '^recon: ' "$DIR"/check_*.out 2>/dev/null | head -2 || true

# Same per-key statuses? partner,day,metric,status of every non-matching key.
keys_csv() { tail -n +2 "$1" | awk -F, '{print $1","$2","$3","$NF}' | LC_ALL=C sort; }
keys_sqlite() {
  sqlite3 -csv "$DIR/bench.db" "select subject, code from check_findings where check_run_id = (select max(id) from check_runs)" \
    | tr -d '"' | LC_ALL=C sort
}
keys_pg() {
  psql -qtA -F, "$PG/$PGDB" -c "select subject, code from check_findings where check_run_id = (select max(id) from check_runs)" | LC_ALL=C sort
}
status=0
ref=""
for name in recon duckdb sqlite postgres; do
  want "$name" || continue
  case $name in
    recon) keys_csv "$DIR/recon.csv" > "$DIR/keys.$name" ;;
    duckdb) keys_csv "$DIR/duckdb.csv" > "$DIR/keys.$name" ;;
    sqlite) keys_sqlite > "$DIR/keys.$name" ;;
    postgres) keys_pg > "$DIR/keys.$name" ;;
  esac
  if [ -z "$ref" ]; then ref=$name; continue; fi
  if cmp -s "$DIR/keys.$ref" "$DIR/keys.$name"; then
    echo "statuses: $name identical to $ref ($(wc -l < "$DIR/keys.$name") non-matching keys)"
  else
    echo "statuses: $name DIFFERENT from $ref"; diff "$DIR/keys.$ref" "$DIR/keys.$name" | head -10; status=1
  fi
done
exit $status
