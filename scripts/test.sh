#!/usr/bin/env bash
# Builds bullmq-worker and runs every test suite on this machine:
#   unit        doctest unit tests (core, extractors) and PostgreSQL integration tests (ctest)
#   interop     the binary driven by the official Node.js bullmq (v6 and v5) against real Redis
#   e2e         the document pipeline end to end: Node producer, Redis, PostgreSQL, the binary
#   deploy      Dockerfile, Kubernetes manifests and docker-compose.yml agree with the binary;
#               every package.json and lockfile runs on Debian 12's Node.js 18
#   chaos       tests/chaos/run.sh --short: workers SIGKILLed and frozen, Redis restarted,
#               PostgreSQL stopped under the document pipeline; nothing lost or done twice
#   release     the image's build: scripts/build-release.sh (Release, stripped) with -Werror on
#   sanitize    unit + integration + interop again with an ASan+UBSan build
# Usage: scripts/test.sh [--skip-install] [--no-sanitize] [--only SUITE]...
# Installs what it needs (scripts/install-deps.sh), so it runs on a fresh Debian 12 as root.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

install=1
sanitize=1
only=()
while (($#)); do
  case "$1" in
    --skip-install) install=0 ;;
    --no-sanitize) sanitize=0 ;;
    --only) only+=("$2"); shift ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
wanted() { ((${#only[@]} == 0)) && return 0; local s; for s in "${only[@]}"; do [[ $s == "$1" ]] && return 0; done; return 1; }

if ((install)); then bash scripts/install-deps.sh || { echo "test.sh: dependency installation failed" >&2; exit 1; }; fi
jobs=$(nproc)
passed=()
failed=()
suite() {  # suite NAME COMMAND...
  local name=$1; shift
  echo
  echo "=== test.sh: $name"
  local start=$SECONDS
  if "$@"; then passed+=("$name"); echo "=== test.sh: $name passed ($((SECONDS - start)) s)"
  else failed+=("$name"); echo "=== test.sh: $name FAILED ($((SECONDS - start)) s)"; fi
}
build() {  # build DIR CMAKE_ARGS...
  local dir=$1; shift
  cmake -S . -B "$dir" "$@" >/dev/null && cmake --build "$dir" -j"$jobs"
}
npm_ready() {  # npm ci in DIR when its node_modules is missing or stale
  local dir=$1
  if [[ ! -d $dir/node_modules || $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
node_suite() {  # node_suite DIR BINARY
  local dir=$1 binary=$2
  npm_ready "$dir" && (cd "$dir" && BULLMQ_WORKER_BIN=$binary node --test --test-concurrency=1 .)
}

suite build build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBULLMQ_WORKER_TESTS=ON -DBULLMQ_WORKER_WERROR=ON
if [[ ${failed[*]-} == *build* ]]; then echo "suites: ${#passed[@]} passed, ${#failed[@]} failed"; exit 1; fi

wanted unit && suite unit ctest --test-dir build --output-on-failure
wanted interop && suite interop node_suite tests/interop "$root/build/bullmq-worker"
e2e_suite() {  # the pipeline test uses the producer's packages and the interop harness
  npm_ready scripts/node && npm_ready tests/interop &&
    (cd tests/e2e && BULLMQ_WORKER_BIN=$1 node --test --test-concurrency=1 .)
}
wanted e2e && suite e2e e2e_suite "$root/build/bullmq-worker"
wanted deploy && suite deploy node_suite tests/deploy "$root/build/bullmq-worker"
# The short chaos run: SIGKILLs, a frozen worker, a Redis restart, a PostgreSQL outage.
wanted chaos && suite chaos bash tests/chaos/run.sh --short --bin "$root/build/bullmq-worker"
# The Dockerfile's build stage runs the same script (without -Werror).
wanted release && suite release bash scripts/build-release.sh build-release -DBULLMQ_WORKER_WERROR=ON

if ((sanitize)) && wanted sanitize; then
  suite sanitize-build build build-asan -DCMAKE_BUILD_TYPE=Debug -DBULLMQ_WORKER_SANITIZE=ON -DBULLMQ_WORKER_TESTS=ON \
    -DBULLMQ_WORKER_WERROR=ON
  if [[ ${failed[*]-} != *sanitize-build* ]]; then
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    suite sanitize-unit ctest --test-dir build-asan --output-on-failure
    suite sanitize-interop node_suite tests/interop "$root/build-asan/bullmq-worker"
  fi
fi

echo
((${#failed[@]})) && echo "test.sh: failed suites: ${failed[*]}"
echo "suites: ${#passed[@]} passed, ${#failed[@]} failed"
((${#failed[@]} == 0))
