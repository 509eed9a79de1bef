#!/usr/bin/env bash
# rstwatch-read against the baselines, on the same generated 1,000,000-line mixed log, in one
# run: JSON output of every event, --summary, grep -c, wc -l, fwlogwatch; then the gzip form
# against zcat | wc -l. Prints wall time, CPU time (user + system of the whole pipeline), max
# RSS, and the ratios to grep -c (or to zcat) of both, each the best of five runs. On a shared machine the CPU ratio is the
# stable one: wall time also measures the neighbours.
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

# Best of five: wall seconds, CPU seconds (user + system of the whole pipeline, to the
# microsecond from getrusage(RUSAGE_CHILDREN); /usr/bin/time's 10 ms ticks are 4 % of a
# 0.25 s run) and the largest max RSS (KiB) of the pipeline's processes, which /usr/bin/time
# reports (the children of python3 would count the interpreter they were forked from).
measure() {  # prints: best wall, best cpu, max rss (KiB)
  python3 - "$1" "$dir/rss" <<'PY'
import resource, subprocess, sys, time
best_wall = best_cpu = None
rss = 0
for _ in range(5):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", sys.argv[2], "bash", "-c", sys.argv[1]],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    best_wall = wall if best_wall is None else min(best_wall, wall)
    best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    with open(sys.argv[2]) as f:
        rss = max(rss, int(f.read().split()[-1]))
print(f"{best_wall:.4f} {best_cpu:.4f} {rss}")
PY
}

row() {  # name command "baseline_wall baseline_cpu"
  local m; m=$(measure "$2")
  read -r s c rss <<<"$m"
  read -r bw bc <<<"$3"
  awk -v n="$1" -v s="$s" -v c="$c" -v r="$rss" -v bw="$bw" -v bc="$bc" -v l="$lines" \
    'BEGIN{printf "%-38s wall %6.3f s  cpu %6.3f s %9.0f lines/s %6.1f MB RSS  %5.2fx wall %5.2fx cpu\n",
           n, s, c, (c>0?l/c:0), r/1024, (bw>0?s/bw:0), (bc>0?c/bc:0)}'
}

grep_s=$(measure "grep -c ' RST ' '$log' | cat"); grep_s=${grep_s% *}  # "wall cpu"
echo "plain file (ratio to grep -c ' RST ' | cat):"
row "grep -c ' RST ' | cat" "grep -c ' RST ' '$log' | cat" "$grep_s"
row "wc -l" "wc -l '$log'" "$grep_s"
row "rstwatch-read --summary" "'$read_bin' --summary '$log'" "$grep_s"
row "rstwatch-read --format json | wc -c" "'$read_bin' --format json '$log' | wc -c" "$grep_s"
row "rstwatch-read --format csv | wc -c" "'$read_bin' --format csv '$log' | wc -c" "$grep_s"
row "rstwatch-read (table) | wc -c" "'$read_bin' '$log' | wc -c" "$grep_s"
if command -v fwlogwatch >/dev/null; then
  # fwlogwatch is superlinear in distinct connections (100,000 of these lines take ~47 s; the
  # whole file, hours): both it and rstwatch-read read the first 100,000 lines for this row,
  # once each, and the ratio is to rstwatch-read --summary on that same slice.
  head -n 100000 "$log" > "$dir/head.log"
  all_lines=$lines lines=100000
  rs=$(measure "'$read_bin' --summary '$dir/head.log'"); rs=${rs% *}
  echo
  echo "first 100000 lines (ratio to rstwatch-read --summary on them):"
  row "rstwatch-read --summary" "'$read_bin' --summary '$dir/head.log'" "$rs"
  /usr/bin/time -f '%e %U %S %M' -o "$dir/time" fwlogwatch -o /dev/null "$dir/head.log" >/dev/null 2>&1 || true
  read -r t u s r < <(tail -1 "$dir/time")
  read -r bw bc <<<"$rs"
  awk -v t="$t" -v c="$(awk -v u="$u" -v s="$s" 'BEGIN{print u + s}')" -v bw="$bw" -v bc="$bc" \
    'BEGIN{printf "%-38s wall %6.3f s  cpu %6.3f s  (once)                        %5.0fx wall %5.0fx cpu\n",
           "fwlogwatch", t, c, (bw>0?t/bw:0), (bc>0?c/bc:0)}'
  lines=$all_lines
fi
zcat_s=$(measure "zcat '$log.gz' | wc -l"); zcat_s=${zcat_s% *}
echo
echo "gzip file (ratio to zcat | wc -l):"
row "zcat | wc -l" "zcat '$log.gz' | wc -l" "$zcat_s"
row "rstwatch-read --summary FILE.gz" "'$read_bin' --summary '$log.gz'" "$zcat_s"
row "rstwatch-read --format json FILE.gz" "'$read_bin' --format json '$log.gz' | wc -c" "$zcat_s"

# --summary's memory follows the number of distinct peers, not of lines: the same number of
# reset lines with 1,000 and with 1,000,000 distinct remote peers (sender remote: IN= set, the
# peer is SRC=), and the JSON output of the second for comparison.
peers_file() {  # distinct-peer count -> file of $lines resets
  awk -v n="$lines" -v d="$1" 'BEGIN {
    for (i = 0; i < n; i++) {
      p = i % d
      printf "Apr 26 15:%02d:%02d vb kernel: [drds] IN=eth0 OUT= SRC=10.%d.%d.%d DST=10.200.0.1 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP SPT=%d DPT=3306 SEQ=0 ACK=1 WINDOW=0 RES=0x00 ACK RST URGP=0\n",
             int(i / 60000) % 60, int(i / 1000) % 60, int(p / 65536), int(p / 256) % 256, p % 256,
             1024 + p % 60000
    }
  }' > "$2"
}
echo
echo "--summary memory by distinct peers ($lines reset lines each):"
for d in 1000 1000000; do
  peers_file "$d" "$dir/peers-$d.log"
  row "rstwatch-read --summary, $d peers" "'$read_bin' --summary '$dir/peers-$d.log'" "$grep_s"
done
row "rstwatch-read --format json | wc -c, 1000000 peers" \
  "'$read_bin' --format json '$dir/peers-1000000.log' | wc -c" "$grep_s"
