#!/usr/bin/env bash
# Interleaved A/B of the trace classifier between two revisions of include/ (see trace_ab.cpp):
#   bench/ab/trace_ab.sh REV_A [REV_B] [LINE_INDEX] [ROUNDS]
# REV_B defaults to the working tree. Compiled as the Release build compiles (-O3), with g++-12
# or $AB_CXX (e.g. AB_CXX=clang++-14). AB_LOOP=next times classify_next() over the text instead
# of classify() per line (both revisions must have it).
# A developer's tool: neither CI nor the benchmarks run it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rev_a=${1:?usage: bench/ab/trace_ab.sh REV_A [REV_B] [LINE_INDEX] [ROUNDS]}
rev_b=${2:-}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
tree() {  # tree REV DIR: include/ of REV (the working tree when REV is empty) under DIR
  mkdir -p "$2"
  if [[ -z $1 ]]; then
    cp -r "$root/include" "$2/"
  else
    git -C "$root" archive "$1" include | tar -x -C "$2"
  fi
}
tree "$rev_a" "$dir/a"
tree "$rev_b" "$dir/b"
cxx=("${AB_CXX:-g++-12}" -std=c++17 -O3 -DNDEBUG)
[[ ${AB_LOOP:-} == next ]] && cxx+=(-DRSTWATCH_AB_NEXT)
side() {  # side a|b: that revision's classifier, its namespace renamed
  "${cxx[@]}" -I"$dir/$1/include" -Drstwatch="rstwatch_$1" -DSIDE="$1" \
    -c "$root/bench/ab/classify_side.cpp" -o "$dir/$1.o"
}
side a &
side b &
"${cxx[@]}" -DRSTWATCH_TRACE_DATA="\"$root/tests/data/trace\"" \
  -c "$root/bench/ab/trace_ab.cpp" -o "$dir/main.o" &
wait %1 && wait %2 && wait %3
"${cxx[@]}" "$dir/main.o" "$dir/a.o" "$dir/b.o" -o "$dir/trace_ab"
"$dir/trace_ab" "${3:--1}" "${4:-200}"
