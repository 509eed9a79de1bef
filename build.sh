#!/usr/bin/env bash
# One entry point for people and CI, on a fresh Debian 12 machine as root:
#   ./build.sh demo   install what is needed, build, and run the main job
#   ./build.sh test   install what is needed, build and run every test twice:
#                     g++ Release, then clang++ with AddressSanitizer and UBSan
#   ./build.sh deps   only install the Debian packages
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
JOBS=${JOBS:-$(nproc)}

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
  configure build/gcc g++-12 -DCMAKE_BUILD_TYPE=Release
  cmake --build build/gcc -j "$JOBS"
}

sanitize_build() {
  local flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
  configure build/asan clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
    -DRSTWATCH_BUILD_BENCHMARKS=OFF -DRSTWATCH_PACKAGE_TESTS=OFF
  cmake --build build/asan -j "$JOBS"
}

case "${1:-}" in
  deps) deps ;;
  demo)
    deps
    gcc_build >&2
    ./build/gcc/examples/rstwatch-paths
    ;;
  test)
    deps
    echo "== g++ 12, Release =="
    gcc_build
    run_ctest build/gcc
    echo "== clang++ 14, AddressSanitizer + UndefinedBehaviorSanitizer =="
    sanitize_build
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 run_ctest build/asan
    ;;
  *)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
