#!/usr/bin/env bash
# One entry point for people and CI, on a fresh Debian 12 machine as root:
#   ./build.sh demo   install what is needed, build, and run the main job
#   ./build.sh test   install what is needed, build and run every test twice:
#                     g++ Release, then clang++ with AddressSanitizer and UBSan
#   ./build.sh fuzz   build the libFuzzer targets with clang, replay every corpus and
#                     reproducer, then fuzz each for RSTWATCH_FUZZ_SECONDS (default 60)
#   ./build.sh deps   only install the Debian packages
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
JOBS=${JOBS:-$(nproc)}
# ccache: paths relative to the checkout, so another clone of the project (CI's) hits the cache.
export CCACHE_BASEDIR=$ROOT CCACHE_NOHASHDIR=1

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  g++-12 clang-14 libclang-rt-14-dev
  libboost-dev catch2 libcli11-dev nlohmann-json3-dev rapidjson-dev libfmt-dev zlib1g-dev
  iproute2 iptables nftables rsyslog logrotate systemd procps kmod e2fsprogs
  valgrind
  python3 systemd-journal-remote fwlogwatch
)

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
      echo "build.sh: missing packages (${missing[*]}); run as root to install them" >&2
      exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# configure DIR COMPILER [extra cmake args...]
configure() {
  local dir=$1 cxx=$2; shift 2
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" "${launcher[@]}" "$@" >/dev/null
}

run_ctest() {
  local dir=$1
  # Root scenarios need real namespaces; ctest serializes kernel-log readers by RESOURCE_LOCK.
  ctest --test-dir "$dir" -j "$JOBS" --output-on-failure --timeout 600
}

gcc_build() {
  # Fuzz targets build against the replay driver, so ctest replays their corpora too.
  configure build/gcc g++-12 -DCMAKE_BUILD_TYPE=Release -DRSTWATCH_BUILD_FUZZERS=ON
  cmake --build build/gcc -j "$JOBS"
}

sanitize_build() {
  # -O1: the sanitizers' usual level; -O2 on the Spirit X3 units costs minutes and finds nothing more.
  local flags="-O1 -gline-tables-only -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
  flags+=" -fsanitize-ignorelist=$ROOT/.ci/sanitizer-ignorelist.txt"
  configure build/asan clang++-14 -DCMAKE_BUILD_TYPE= \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
    -DRSTWATCH_BUILD_BENCHMARKS=OFF -DRSTWATCH_PACKAGE_TESTS=OFF
  cmake --build build/asan -j "$JOBS"
}

fuzz_stage() {
  configure build/fuzz clang++-14 -DCMAKE_BUILD_TYPE= -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" -DRSTWATCH_BUILD_FUZZERS=ON \
    -DRSTWATCH_FUZZ_ENGINE=libfuzzer -DRSTWATCH_BUILD_TESTS=OFF -DRSTWATCH_BUILD_EXAMPLES=OFF \
    -DRSTWATCH_BUILD_BENCHMARKS=OFF
  cmake --build build/fuzz -j "$JOBS"
  local seconds=${RSTWATCH_FUZZ_SECONDS:-60} targets=() t
  for t in build/fuzz/fuzz/fuzz-*; do [[ -x $t ]] && targets+=("${t##*/fuzz-}"); done
  if ((${#targets[@]} == 0)); then echo "no fuzz targets yet"; return 0; fi
  mkdir -p build/fuzz/artifacts
  echo "-- replaying corpora and reproducers (deterministic)"
  for t in "${targets[@]}"; do
    local dirs=()
    for d in fuzz/corpus/$t fuzz/regressions/$t; do [[ -d $d ]] && dirs+=("$d"); done
    ((${#dirs[@]})) && build/fuzz/fuzz/fuzz-$t -runs=0 "${dirs[@]}" 2>&1 | tail -1
  done
  echo "-- fuzzing each target for ${seconds}s, two at a time"
  local failed=0 pids=() names=()
  run_one() {
    local t=$1 scratch=build/fuzz/scratch/$1 opts=(-max_total_time="$seconds" -timeout=5
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/$1-)
    mkdir -p "$scratch"
    local dict=""
    [[ -f fuzz/$t.options ]] && dict=$(sed -n 's/^dict *= *//p' "fuzz/$t.options")
    [[ -z $dict && -f fuzz/$t.dict ]] && dict=$t.dict
    [[ -n $dict ]] && opts+=(-dict=fuzz/$dict)
    local ml=""
    [[ -f fuzz/$t.options ]] && ml=$(sed -n 's/^max_len *= *//p' "fuzz/$t.options")
    [[ -n $ml ]] && opts+=(-max_len="$ml")
    local seeds=()
    [[ -d fuzz/corpus/$t ]] && seeds+=(fuzz/corpus/$t)
    build/fuzz/fuzz/fuzz-$t "${opts[@]}" "$scratch" "${seeds[@]}" >"build/fuzz/$t.log" 2>&1
  }
  for t in "${targets[@]}"; do
    run_one "$t" & pids+=($!); names+=("$t")
    if ((${#pids[@]} == 2)); then
      for i in 0 1; do wait "${pids[$i]}" || { failed=1; echo "FINDING in ${names[$i]}:"; tail -30 "build/fuzz/${names[$i]}.log"; }; done
      pids=(); names=()
    fi
  done
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || { failed=1; echo "FINDING in ${names[$i]}:"; tail -30 "build/fuzz/${names[$i]}.log"; }; done
  for t in "${targets[@]}"; do
    printf '%-16s %s\n' "$t" "$(grep -E 'stat::number_of_executed_units|cov:' "build/fuzz/$t.log" | tail -2 | tr '\n' ' ')"
  done
  return $failed
}

case "${1:-}" in
  deps) deps ;;
  demo)
    deps
    gcc_build >&2
    # The main job: who sent each reset in a log captured from the real kernel through rsyslogd.
    ./build/gcc/examples/rstwatch-read examples/data/sample.log
    ./build/gcc/examples/rstwatch-read --summary examples/data/sample.log
    ;;
  test)
    deps
    echo "== g++ 12, Release =="
    gcc_build
    run_ctest build/gcc
    echo "== clang++ 14, AddressSanitizer + UndefinedBehaviorSanitizer =="
    sanitize_build
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 run_ctest build/asan
    echo "== clang++ 14, libFuzzer =="
    fuzz_stage
    ;;
  fuzz)
    deps
    fuzz_stage
    ;;
  *)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
