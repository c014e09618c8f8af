#!/usr/bin/env bash
# The chaos suite: bullmq-worker processes SIGKILLed every few seconds,
# frozen past their lock, Redis killed and restarted, PostgreSQL stopped and
# started again, a Sentinel group failing over; the outcome read back with
# the official bullmq client and PostgreSQL. See tests/chaos/README.md.
#
# Usage: tests/chaos/run.sh [--short|--full] [--scenario conformance|pipeline|sentinel|all]
#                           [--seed N] [--bin PATH]
#   --short   (default) ~2,000 conformance jobs, 12 batches, 15 s PostgreSQL outage,
#             3 Sentinel failovers under ~1,100 jobs; ~2¼ min on 2 cores
#   --full    20,000 conformance jobs, 50 batches of 20 documents, 60 s PostgreSQL outage,
#             14 Sentinel failovers under 8,500 jobs; ~11 min
# The worker binary is build/bullmq-worker (or --bin / BULLMQ_WORKER_BIN).
# Prints a table, the checks, and a closing line "N passed, N failed"; writes
# tests/chaos/.out/report.json and the worker logs under tests/chaos/.out/.
# Needs: node >= 18 and npm, redis-server, PostgreSQL 15 (scripts/install-deps.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

args=()
while (($#)); do
  case "$1" in
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if ((node_major < 18)); then
  echo "chaos: Node.js 18 or newer is needed (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 2
fi

npm_ready() {  # npm ci in DIR when its node_modules is missing or older than the lockfile
  local dir=$1
  if [[ ! -d $dir/node_modules || $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || { echo "chaos: npm ci failed in $dir" >&2; exit 2; }
  fi
}
npm_ready "$here"
npm_ready "$root/scripts/node"  # scripts/producer.mjs produces the pipeline's batches

out="$here/.out"
pid_file="$out/pids"
node_pid=

# Stops what is still running, by pid only: the driver (which stops its own
# children), then anything its pid file lists that is still alive with the
# same command name (a driver killed outright cannot clean up after itself).
cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  if [[ -n $node_pid ]] && kill -0 "$node_pid" 2>/dev/null; then
    kill -TERM "$node_pid" 2>/dev/null
    for _ in $(seq 1 400); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$node_pid" 2>/dev/null && kill -KILL "$node_pid" 2>/dev/null
  fi
  if [[ -f $pid_file ]]; then
    local pid comm
    while IFS=$'\t' read -r pid comm; do
      [[ -n $pid && -r /proc/$pid/comm ]] || continue
      [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || continue
      echo "chaos: stopping leftover $comm (pid $pid)" >&2
      kill -CONT "$pid" 2>/dev/null
      if [[ $comm == postgres ]]; then  # immediate shutdown: the postmaster takes its backends along
        kill -QUIT "$pid" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      fi
      kill -KILL "$pid" 2>/dev/null
    done < "$pid_file"
  fi
  if [[ -f $pid_file.dirs && -z ${KEEP_CHAOS_DIRS-} ]]; then
    local dir
    while read -r dir; do
      [[ $dir == /tmp/bullmq-chaos-pg-* && -d $dir ]] && rm -rf -- "$dir"
    done < "$pid_file.dirs"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

node "$here/chaos.mjs" --out "$out" "${args[@]}" &
node_pid=$!
wait "$node_pid"
status=$?
node_pid=
exit "$status"
