#!/usr/bin/env bash
# Installs the dependencies of bullmq-worker from Debian 12 packages.
# Idempotent: packages already present are left alone. Run as root.
#
#   scripts/install-deps.sh               everything: build, tests, demo (servers, browser, clang-format)
#   scripts/install-deps.sh --build-only  what scripts/build-release.sh needs (the image's build stage):
#                                         toolchain, -dev libraries, nodejs and npm (npm ci in lua/)
#   scripts/install-deps.sh [--build-only] --list   print the package names, install nothing
set -euo pipefail

build_only=0
list=0
while (($#)); do
  case "$1" in
    --build-only) build_only=1 ;;
    --list) list=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown option $1 (usage: scripts/install-deps.sh [--build-only] [--list])" >&2; exit 2 ;;
  esac
  shift
done

packages=(
  # toolchain (ca-certificates: npm reaches its registry over TLS)
  build-essential cmake pkg-config ca-certificates
  # Node.js runs the pinned BullMQ package: script extraction at build time
  # (and, below, interop tests, the demo producer and Bull Board)
  nodejs npm
  # core: Asio (Boost), TLS (OpenSSL), JSON, msgpack,
  # CLI parsing, time zones for cron schedulers
  libboost-dev libboost-system-dev libssl-dev rapidjson-dev
  libmsgpack-cxx-dev libcli11-dev libcctz-dev
  # pipeline: PostgreSQL client, libmagic, poppler, libzip, pugixml
  libpqxx-dev libpq-dev libmagic-dev libpoppler-cpp-dev libzip-dev libpugixml-dev
)
if ((!build_only)); then
  packages+=(
    git clang-format tzdata
    # tests and demo servers
    doctest-dev redis-server postgresql zip procps
    python3   # the command-processor tests run a Python handler (tests only)
    iproute2  # ss: the demo names the process holding a port it wanted
    chromium  # headless browser for the Bull Board test (driven by playwright-core)
    poppler-utils  # pdftotext: the yardstick of scripts/bench.sh --scenario pipeline
  )
fi
if ((list)); then printf '%s\n' "${packages[@]}"; exit 0; fi

missing=()
for p in "${packages[@]}"; do
  # Node may already come from elsewhere (e.g. a newer Node.js on PATH).
  if [[ $p == nodejs || $p == npm ]] && command -v node >/dev/null && command -v npm >/dev/null; then
    continue
  fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Debian packages start services on install; the project runs its own
# instances on loopback ports, so the system ones are not needed.
for svc in redis-server postgresql; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done
if ((build_only)); then echo "install-deps: build dependencies present"; else echo "install-deps: all dependencies present"; fi
