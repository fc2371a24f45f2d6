#!/usr/bin/env bash
# Benchmark `cutover recon` against DuckDB's full-outer-join SQL on the same seeded files.
#
# usage: scripts/bench-recon.sh [ROWS_PER_SIDE] [RUNS]
#   CUTOVER_BIN  the release binary (default target/release/cutover; build it with
#                `cargo build --release`)
#   BENCH_DIR    where the generated CSVs go (default /tmp/cutover-bench-ROWS)
# Prints, per tool, every run's wall time and peak RSS (from /usr/bin/time -v), the
# medians, and whether the per-key statuses are identical.
set -euo pipefail
ROWS=${1:-10000000}
RUNS=${2:-3}
BIN=${CUTOVER_BIN:-target/release/cutover}
DIR=${BENCH_DIR:-/tmp/cutover-bench-$ROWS}
PY=${PYTHON:-python3.11}
HERE=$(cd "$(dirname "$0")" && pwd)

$PY -c 'import duckdb' 2>/dev/null || $PY -m pip install -q duckdb
if [ ! -f "$DIR/crosswalk.csv" ]; then
  "$BIN" gen-recon --rows "$ROWS" --seed 42 --dir "$DIR"
fi
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/Mem:/{print $2}') GiB RAM"
echo "inputs: $(wc -l < "$DIR/old.csv") + $(wc -l < "$DIR/new.csv") lines, $(du -sh "$DIR/old.csv" | cut -f1) + $(du -sh "$DIR/new.csv" | cut -f1)"
echo "duckdb $($PY -c 'import duckdb; print(duckdb.__version__)')"

measure() { # name, command...
  local name=$1; shift
  local t="$DIR/$name.time"
  /usr/bin/time -v "$@" 2> "$t" >/dev/null || true
  local wall rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$t" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$t")
  echo "$name $wall $rss" >> "$DIR/results.txt"
  printf '%-8s wall %6.2f s  peak RSS %7.1f MiB\n' "$name" "$wall" "$(echo "$rss/1024" | bc -l)"
}

: > "$DIR/results.txt"
for i in $(seq 1 "$RUNS"); do
  measure duckdb $PY "$HERE/recon_duckdb.py" "$DIR/old.csv" "$DIR/new.csv" "$DIR/crosswalk.csv" 1 0.01 "$DIR/duckdb.csv"
  measure cutover "$BIN" recon --old "$DIR/old.csv" --new "$DIR/new.csv" --crosswalk "$DIR/crosswalk.csv" --abs 1 --rel 0.01 --out "$DIR/cutover.csv"
done
grep -E '^(rows|[0-9.]+ s)' "$DIR/cutover.time" || true

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for name in duckdb cutover; do
  w=$(awk -v n=$name '$1==n{print $2}' "$DIR/results.txt" | median)
  r=$(awk -v n=$name '$1==n{print $3}' "$DIR/results.txt" | median)
  printf 'median %-8s wall %6.2f s  peak RSS %7.1f MiB\n' "$name" "$w" "$(echo "$r/1024" | bc -l)"
done

# Same per-key statuses? (partner_id, day, metric, status; values are formatted differently)
keys() { tail -n +2 "$1" | awk -F, '{print $1","$2","$3","$NF}' | LC_ALL=C sort; }
if cmp -s <(keys "$DIR/duckdb.csv") <(keys "$DIR/cutover.csv"); then
  echo "statuses: identical ($(($(wc -l < "$DIR/cutover.csv") - 1)) findings)"
else
  echo "statuses: DIFFERENT"; diff <(keys "$DIR/duckdb.csv") <(keys "$DIR/cutover.csv") | head -20; exit 1
fi
