#!/usr/bin/env bash
# The product in one command, on a fresh Debian 12 machine as root:
# installs what is missing, builds, starts its own Redis and PostgreSQL on
# loopback, migrates, generates a sample upload (a ZIP of PDF, DOCX, XLSX, CSV,
# text and Markdown files in folders, plus one corrupt PDF), plays the backend
# with scripts/producer.mjs (batch rows, storage, a BullMQ flow), runs
# bullmq-worker and Bull Board, shows progress and prints the batch summary
# from run_summaries.
#
#   scripts/demo.sh          run a batch, then keep Bull Board up until Ctrl-C
#   scripts/demo.sh --once   run a batch, print the summary and stop
#                            (the default when standard input is not a terminal)
#   scripts/demo.sh stop     stop what a killed run (SIGKILL) left running
#   scripts/demo.sh clean    stop, then delete the demo's state and its database
#
# However it ends (success, failure, Ctrl-C, SIGTERM), the demo stops every
# process it started, by pid, and waits for them. It only talks to servers it
# started itself. Ports: DEMO_REDIS_PORT (default 6390), DEMO_PG_PORT (5433),
# DEMO_METRICS_PORT (the worker's /metrics, 9464), DEMO_BOARD_PORT (3000). A
# default port that another process listens on is replaced by a free one; a
# port set in the environment that is taken is refused, naming its owner.
# State: .state/ (DEMO_STATE_DIR), reused by the next run; PostgreSQL's data
# is in a folder under /var/tmp that the postgres user can reach (its path is
# kept in .state/pg-dir). DEMO_BUILD_DIR: the build folder (default build).
# Without a terminal, progress is one line per change (no redraws, no colour).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state=${DEMO_STATE_DIR:-$root/.state}
build=${DEMO_BUILD_DIR:-build}
queue=file-processing
pg_bin=/usr/lib/postgresql/15/bin
pids_file=$state/pids  # "NAME PID" of what this run started and has not stopped yet
once=0
[[ -t 0 ]] || once=1
tty=0
[[ -t 1 ]] && tty=1

say() { if ((tty)); then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
fail() { echo "demo: $*" >&2; exit 1; }
as_postgres() { if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi; }

# ------------------------------------------------------------ processes

alive() {  # alive PID: the process exists and is not a zombie
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ -n $stat && ${stat:0:1} != Z ]]
}
is_ours() {  # is_ours NAME PID: alive and still the program started under NAME
  local cmd want
  case $1 in
    redis) want=redis-server ;; worker) want=bullmq-worker ;; board) want=bull-board.mjs ;; postgres) want=postgres ;;
    *) return 1 ;;
  esac
  alive "$2" || return 1
  cmd=$(tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *"$want"* ]]
}
record() { echo "$1 $2" >>"$pids_file"; }
recorded() { [[ -f $pids_file ]] && awk -v n="$1" '$1 == n { p = $2 } END { if (p) print p }' "$pids_file"; }
unrecord() { if [[ -f $pids_file ]]; then sed -i "/^$1 /d" "$pids_file"; fi; }
pg_dir() { cat "$state/pg-dir" 2>/dev/null || true; }

stop_one() {  # stop_one NAME PID: SIGTERM (pg_ctl stop for PostgreSQL), bounded wait, then SIGKILL
  local name=$1 pid=$2 i
  if [[ $name == postgres ]]; then
    local data; data=$(pg_dir)/data
    pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
    [[ -n $pid ]] && is_ours postgres "$pid" || { unrecord postgres; return 0; }
    as_postgres "$pg_bin/pg_ctl" -D "$data" -m fast -w -t 20 stop >/dev/null 2>&1 || kill -QUIT "$pid" 2>/dev/null || true
  elif is_ours "$name" "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
  else
    unrecord "$name"; return 0
  fi
  for ((i = 0; i < 200; i++)); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    echo "demo: $name (pid $pid) did not stop within 20 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
  fi
  wait "$pid" 2>/dev/null || true  # reaps it when it is this shell's child
  echo "stopped $name (pid $pid)"
  unrecord "$name"
}

stop_recorded() {  # stops what the pids file lists: dependents first
  local name pid
  for name in board worker redis postgres; do
    pid=$(recorded "$name") || true
    [[ -n $pid ]] && stop_one "$name" "$pid"
  done
  rm -f "$pids_file"
}

stop_leftovers() {  # what a killed run left, including the pid files of earlier demo versions
  local name
  for name in board worker redis; do
    if [[ -f $state/$name.pid ]]; then record "$name" "$(cat "$state/$name.pid")"; rm -f "$state/$name.pid"; fi
  done
  if [[ -f $state/pg/postmaster.pid ]]; then
    as_postgres "$pg_bin/pg_ctl" -D "$state/pg" -m fast -w -t 20 stop >/dev/null 2>&1 || true
  fi
  stop_recorded
}

# Long steps run in the background and are waited for, so that a signal's trap
# runs at once; the trap stops such a step too.
current=
step() {
  local rc=0
  "$@" 9>&- &
  current=$!
  wait "$current" || rc=$?
  current=
  return "$rc"
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [[ -n $current ]] && alive "$current"; then
    kill -TERM "$current" 2>/dev/null || true
    wait "$current" 2>/dev/null || true
  fi
  stop_recorded
  exit "$rc"
}

# ------------------------------------------------------------ ports

listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
port_owner() {  # "redis-server (pid 123)", when ss can tell
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o '"[^"]*",pid=[0-9]*' | head -n 1 |
    sed -E 's/"([^"]*)",pid=([0-9]+)/\1 (pid \2)/'
}
free_port() {
  node -e "const s = require('net').createServer(); s.listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });"
}
pick_port() {  # pick_port WHAT VARIABLE DEFAULT: prints the port to use
  local what=$1 var=$2 explicit=${!2:-} port owner
  port=${explicit:-$3}
  if listening "$port"; then
    owner=$(port_owner "$port")
    if [[ -n $explicit ]]; then
      echo "demo: port $port ($var) for $what is already in use by ${owner:-another process}; the demo only uses servers it starts itself: stop that process or set $var to a free port" >&2
      return 1
    fi
    local other; other=$(free_port)
    echo "demo: port $port is in use by ${owner:-another process}; $what uses port $other instead" >&2
    port=$other
  fi
  echo "$port"
}

# ------------------------------------------------------------ commands

mkdir -p "$state"
case "${1:-}" in
  stop) stop_leftovers; say "demo: stopped"; exit 0 ;;
  clean)
    exec 9>"$state/lock"
    flock -n 9 || fail "a demo is running with $state; stop it first"
    stop_leftovers
    pg=$(pg_dir)
    if [[ $pg == /var/tmp/bullmq-demo-pg.* ]]; then rm -rf "$pg"; fi
    rm -rf "$state/redis" "$state/storage" "$state/pg" "$state/pg-run"
    rm -f "$state"/{pg-dir,sample-upload.zip,redis.log,worker.log,board.log,lock}
    rmdir "$state" 2>/dev/null || true
    say "demo: cleaned"; exit 0 ;;
  --once) once=1 ;;
  "") ;;
  *) echo "usage: scripts/demo.sh [--once|stop|clean]" >&2; exit 2 ;;
esac

exec 9>"$state/lock"
flock -n 9 || fail "another demo is running with $state (scripts/demo.sh stop stops it)"
stop_leftovers
trap on_exit EXIT
trap 'echo "demo: interrupted" >&2; exit 130' INT
trap 'echo "demo: terminated" >&2; exit 143' TERM
trap 'exit 129' HUP

say "1/6 installing dependencies"
step bash scripts/install-deps.sh
say "2/6 building"
# An existing build folder keeps its configuration (tests on, say); only the binary is brought up to date.
if [[ ! -f $build/CMakeCache.txt ]]; then
  step cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBULLMQ_WORKER_TESTS=OFF >/dev/null
fi
step cmake --build "$build" -j"$(nproc)" --target bullmq-worker
[[ -d scripts/node/node_modules ]] || step npm ci --prefix scripts/node --no-audit --no-fund --loglevel=error

redis_port=$(pick_port Redis DEMO_REDIS_PORT 6390)
pg_port=$(pick_port PostgreSQL DEMO_PG_PORT 5433)
metrics_port=$(pick_port "the worker's metrics" DEMO_METRICS_PORT 9464)
board_port=$(pick_port "Bull Board" DEMO_BOARD_PORT 3000)

say "3/6 starting Redis (port $redis_port) and PostgreSQL (port $pg_port)"
mkdir -p "$state/redis" "$state/storage"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$state/redis" --save 60 1 --appendonly no \
  --daemonize no --logfile "$state/redis.log" 9>&- &
redis_pid=$!
record redis "$redis_pid"
redis_ours() {  # alive, and the server on the port reports this pid
  alive "$redis_pid" || fail "Redis (pid $redis_pid) exited: $(tail -n 3 "$state/redis.log" 2>/dev/null)"
  [[ $(redis-cli -p "$redis_port" info server 2>/dev/null | tr -d '\r' | awk -F: '$1 == "process_id" { print $2 }') == "$redis_pid" ]]
}
deadline=$((SECONDS + 20))
until redis_ours; do ((SECONDS < deadline)) || fail "Redis (pid $redis_pid) does not answer on port $redis_port (see $state/redis.log)"; sleep 0.1; done
echo "started redis-server (pid $redis_pid, port $redis_port)"

pg=$(pg_dir)
if [[ -z $pg || ! -f $pg/data/PG_VERSION ]]; then
  # Not inside the checkout: run as root from /root/project (a home of mode
  # 700), the postgres user could not reach it.
  if [[ $pg == /var/tmp/bullmq-demo-pg.* ]]; then rm -rf "$pg"; fi
  pg=$(mktemp -d /var/tmp/bullmq-demo-pg.XXXXXX)
  echo "$pg" >"$state/pg-dir"
  if ((EUID == 0)); then chown postgres:postgres "$pg"; fi
  step as_postgres "$pg_bin/initdb" -D "$pg/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
fi
record postgres -
step as_postgres "$pg_bin/pg_ctl" -D "$pg/data" -l "$pg/postgres.log" -w -t 30 \
  -o "-p $pg_port -k $pg -c listen_addresses=127.0.0.1" start >/dev/null ||
  fail "PostgreSQL did not start (see $pg/postgres.log)"
pg_pid=$(head -n 1 "$pg/data/postmaster.pid")
psql_q() { psql -X -q -P pager=off -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }
is_ours postgres "$pg_pid" && [[ $(psql_q -d postgres -tAc 'SHOW data_directory') == "$pg/data" ]] ||
  fail "the PostgreSQL on port $pg_port is not the one this demo started (pid $pg_pid, $pg/data)"
echo "started PostgreSQL (pid $pg_pid, port $pg_port, data $pg/data)"

psql_q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'bullmq_demo'" | grep -q 1 ||
  psql_q -d postgres -c "CREATE DATABASE bullmq_demo" >/dev/null
database_url="postgresql://postgres@127.0.0.1:$pg_port/bullmq_demo"
redis_url="redis://127.0.0.1:$redis_port"
"$build/bullmq-worker" migrate --database-url "$database_url"

say "4/6 running bullmq-worker and Bull Board"
LOG_FORMAT=json "$build/bullmq-worker" run --queue "$queue" --redis "$redis_url" \
  --database-url "$database_url" --storage-base-path "$state/storage" --concurrency 4 \
  --name demo-worker --metrics-max-data-points 120 --http-port "$metrics_port" --http-host 127.0.0.1 \
  >>"$state/worker.log" 2>&1 9>&- &
worker_pid=$!
record worker "$worker_pid"
echo "started bullmq-worker (pid $worker_pid, metrics port $metrics_port)"
node scripts/bull-board.mjs --queue "$queue" --redis "$redis_url" --host 127.0.0.1 --port "$board_port" \
  >>"$state/board.log" 2>&1 9>&- &
board_pid=$!
record board "$board_pid"
echo "started Bull Board (pid $board_pid, port $board_port)"

say "5/6 generating a sample upload and enqueueing it (scripts/producer.mjs --flow)"
upload=$state/sample-upload.zip
node --input-type=module -e "
  import { writeFileSync } from 'node:fs';
  import { mixedUpload, uploadZip } from '$root/scripts/lib/documents.mjs';
  writeFileSync('$upload', uploadZip(mixedUpload()));
"
batch=$(node scripts/producer.mjs --zip "$upload" --redis "$redis_url" --database-url "$database_url" \
  --storage "$state/storage" --queue "$queue" --flow)
run_id=$(node -e "console.log(JSON.parse(process.argv[1]).run_id)" "$batch")
batch_id=$(node -e "console.log(JSON.parse(process.argv[1]).batch_id)" "$batch")
echo "batch $batch_id (run $run_id)"

deadline=$((SECONDS + 120))
finished=0 total=0 status=queued last=
while :; do
  alive "$worker_pid" || fail "bullmq-worker (pid $worker_pid) exited (see $state/worker.log)"
  if read -r f t s < <(psql_q -d bullmq_demo -tA -F ' ' -c "
    SELECT count(*) FILTER (WHERE f.status IN ('completed','failed')), count(*), p.status
    FROM processing_jobs p LEFT JOIN file_extractions f ON f.run_id = p.run_id
    WHERE p.run_id = '$run_id' GROUP BY p.status"); then
    finished=$f total=$t status=$s
  fi
  line=$(printf '%d/%d files, batch %s' "$finished" "$total" "$status")
  if ((tty)); then
    width=30
    filled=$((total > 0 ? finished * width / total : 0))
    printf '\r  [%-*s] %s   ' "$width" "$(printf '%*s' "$filled" '' | tr ' ' '#')" "$line"
  elif [[ $line != "$last" ]]; then
    echo "  $line"  # without a terminal: one line per change
  fi
  last=$line
  [[ $status == queued || $status == processing ]] || break
  if ((SECONDS >= deadline)); then
    ((tty)) && echo
    fail "the batch is still '$status' after 120 s (see $state/worker.log)"
  fi
  sleep 0.2
done
((tty)) && echo

say "6/6 batch summary (run_summaries)"
psql_q -d bullmq_demo -c "
  SELECT r->>'name' AS file, r->>'folder' AS folder, r->>'type' AS type, r->>'status' AS status,
         r->>'pages' AS pages, r->>'words' AS words, r->>'size_bytes' AS bytes,
         r->>'duration_ms' AS ms, left(coalesce(r->>'error', ''), 50) AS error
  FROM run_summaries s, jsonb_array_elements(s.ui_json->'files') r
  WHERE s.run_id = '$run_id' ORDER BY r->>'path'"
psql_q -d bullmq_demo -c "
  SELECT p.status, s.file_count AS files, s.success_count AS ok, s.error_count AS errors, p.completed_at
  FROM processing_jobs p JOIN run_summaries s USING (run_id) WHERE p.run_id = '$run_id'"

[[ $status == completed_with_errors ]] ||
  fail "the batch ended as '$status', expected completed_with_errors (see $state/worker.log)"
say "demo: the batch completed as expected (6 files extracted, 1 corrupt file failed)"
((once)) && exit 0  # the exit trap stops everything

deadline=$((SECONDS + 15))
until (exec 3<>"/dev/tcp/127.0.0.1/$board_port") 2>/dev/null; do
  alive "$board_pid" || fail "Bull Board (pid $board_pid) exited (see $state/board.log)"
  ((SECONDS < deadline)) || fail "Bull Board does not answer on port $board_port (see $state/board.log)"
  sleep 0.1
done
say "Bull Board: http://127.0.0.1:$board_port/   worker metrics: http://127.0.0.1:$metrics_port/metrics"
say "Redis $redis_url, PostgreSQL $database_url, worker log $state/worker.log"
say "Ctrl-C stops the demo and everything it started"
while alive "$worker_pid" && alive "$board_pid"; do
  sleep 1 9>&- &
  current=$!
  wait "$current" || true
  current=
done
fail "bullmq-worker or Bull Board exited (see $state/worker.log, $state/board.log)"
