#!/usr/bin/env bash
# Builds the Release artefacts of bullmq-worker: the binary, its files
# plugin and its tracing module, stripped, in build-release/ (or DIR), then runs `bullmq-worker
# --version` and installs the processor SDK into DIR/sdk. The Dockerfile's
# build stage and scripts/test.sh's release suite both run this script, so
# CI builds exactly what the image ships.
#
#   scripts/build-release.sh [DIR] [CMAKE_ARG...]
#   scripts/build-release.sh build-release -DBULLMQ_WORKER_WERROR=ON   # as CI
#
# Needs the build dependencies (scripts/install-deps.sh --build-only) and the
# npm registry (the pinned bullmq package in lua/ is installed with npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in -h|--help) sed -n '2,12p' "$0"; exit 0 ;; esac
dir=build-release
if (($#)) && [[ $1 != -* ]]; then dir=$1; shift; fi

echo "build-release: configuring $dir (Release, tests off)"
# -Werror off unless asked for (CI), also when DIR was configured before with it on.
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DBULLMQ_WORKER_TESTS=OFF -DBULLMQ_WORKER_WERROR=OFF "$@"
echo "build-release: building"
cmake --build "$dir" -j"$(nproc)"
strip "$dir/bullmq-worker" "$dir/bullmq-worker-files.so" "$dir/bullmq-worker-otel.so"
"$dir/bullmq-worker" --version
# The processor SDK (headers, CMake package, pkg-config file), for plugin builds.
rm -rf "$dir/sdk"
cmake --install "$dir" --component sdk --prefix "$dir/sdk" >/dev/null
echo "build-release: $dir/bullmq-worker, $dir/bullmq-worker-files.so, $dir/bullmq-worker-otel.so and the SDK in $dir/sdk"
