#!/usr/bin/env bash
# Installs every build, test and demo dependency of bullmq-worker from Debian 12
# packages. Idempotent: packages already present are left alone. Run as root.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config git ca-certificates clang-format
  # Node.js runs the pinned BullMQ package: script extraction at build time,
  # interop tests, the demo producer and Bull Board
  nodejs npm
  # core: Asio (Boost), RESP parsing (hiredis), TLS (OpenSSL), JSON, msgpack,
  # CLI parsing, time zones for cron schedulers
  libboost-dev libboost-system-dev libhiredis-dev libssl-dev rapidjson-dev
  libmsgpack-cxx-dev libcli11-dev libcctz-dev tzdata
  # pipeline: PostgreSQL client, libmagic, poppler, libzip, pugixml
  libpqxx-dev libpq-dev libmagic-dev libpoppler-cpp-dev libzip-dev libpugixml-dev
  # tests and demo servers
  doctest-dev redis-server postgresql zip procps
  chromium  # headless browser for the Bull Board test (driven by playwright-core)
)

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
echo "install-deps: all dependencies present"
