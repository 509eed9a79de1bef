#!/usr/bin/env bash
# rstwatch-read against the baselines, on the same generated 1,000,000-line mixed log, in one
# run: JSON output of every event, --summary, grep -c, wc -l, fwlogwatch; then the gzip form
# against zcat | wc -l. Prints wall time, max RSS and the ratio to grep -c (or to zcat).
#   bench/read_bench.sh [BUILD_DIR] [LINES]
set -euo pipefail
build=${1:-build/gcc}
lines=${2:-1000000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
log=$dir/mixed.log
"$build/bench/rstwatch-bench-log" --lines "$lines" --file "$log" --keep --only-rstwatch >/dev/null
gzip -k "$log"
read_bin=$build/examples/rstwatch-read
printf 'file: %s lines, %s bytes (%s gzip)\n\n' "$lines" "$(stat -c %s "$log")" "$(stat -c %s "$log.gz")"

# best of three: seconds and max RSS (KiB) of a shell pipeline
measure() {
  local best="" rss=0 t
  for _ in 1 2 3; do
    /usr/bin/time -f '%e %M' -o "$dir/time" bash -c "$1" >/dev/null 2>&1 || true
    read -r t r < <(tail -1 "$dir/time")
    if [[ -z $best ]] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    ((r > rss)) && rss=$r
  done
  echo "$best $rss"
}

row() {  # name command baseline_seconds
  local m; m=$(measure "$2")
  local s=${m% *} rss=${m#* }
  awk -v n="$1" -v s="$s" -v r="$rss" -v b="$3" -v l="$lines" \
    'BEGIN{printf "%-34s %7.3f s %9.0f lines/s %7.1f MB RSS %6.2fx\n", n, s, (s>0?l/s:0), r/1024, (b>0?s/b:0)}'
}

grep_s=$(measure "grep -c ' RST ' '$log' | cat"); grep_s=${grep_s% *}
echo "plain file (ratio to grep -c ' RST ' | cat):"
row "grep -c ' RST ' | cat" "grep -c ' RST ' '$log' | cat" "$grep_s"
row "wc -l" "wc -l '$log'" "$grep_s"
row "rstwatch-read --summary" "'$read_bin' --summary '$log'" "$grep_s"
row "rstwatch-read --format json | wc -c" "'$read_bin' --format json '$log' | wc -c" "$grep_s"
row "rstwatch-read --format csv | wc -c" "'$read_bin' --format csv '$log' | wc -c" "$grep_s"
row "rstwatch-read (table) | wc -c" "'$read_bin' '$log' | wc -c" "$grep_s"
if command -v fwlogwatch >/dev/null; then
  row "fwlogwatch" "fwlogwatch -f '$log' -o /dev/null" "$grep_s"
fi
zcat_s=$(measure "zcat '$log.gz' | wc -l"); zcat_s=${zcat_s% *}
echo
echo "gzip file (ratio to zcat | wc -l):"
row "zcat | wc -l" "zcat '$log.gz' | wc -l" "$zcat_s"
row "rstwatch-read --summary FILE.gz" "'$read_bin' --summary '$log.gz'" "$zcat_s"
row "rstwatch-read --format json FILE.gz" "'$read_bin' --format json '$log.gz' | wc -c" "$zcat_s"
