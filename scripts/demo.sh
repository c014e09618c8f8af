#!/usr/bin/env bash
# The product in one command, on a fresh Debian 12 machine as root:
# installs what is missing, builds, starts Redis and PostgreSQL on loopback
# in .state/ (reused by the next run), migrates, generates a sample upload (a
# ZIP of PDF, DOCX, XLSX, CSV, text and Markdown files in folders, plus one
# corrupt PDF), plays the backend with scripts/producer.mjs (batch rows,
# storage, a BullMQ flow), runs bullmq-worker and Bull Board, shows progress
# and prints the batch summary from run_summaries.
#
#   scripts/demo.sh          run a batch; leave the services running
#   scripts/demo.sh --once   run a batch, print the summary, stop everything
#                            (the default when standard input is not a terminal)
#   scripts/demo.sh stop     stop what an earlier run left running (by pid)
#
# Ports: DEMO_REDIS_PORT (default 6390), DEMO_PG_PORT (default 5433),
# DEMO_BOARD_PORT (default 3000).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state=$root/.state
redis_port=${DEMO_REDIS_PORT:-6390}
pg_port=${DEMO_PG_PORT:-5433}
board_port=${DEMO_BOARD_PORT:-3000}
queue=file-processing
once=0
[[ -t 0 ]] || once=1

say() { printf '\033[1m%s\033[0m\n' "$*"; }
as_postgres() { if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_bin=/usr/lib/postgresql/15/bin

stop_pid_file() {  # stop_pid_file FILE: SIGTERM the pid in FILE and wait for it
  [[ -f $1 ]] || return 0
  local pid; pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$1"
}

stop_all() {
  stop_pid_file "$state/board.pid"
  if [[ -f $state/worker.pid ]]; then
    local pid; pid=$(cat "$state/worker.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$state/worker.pid"
  fi
  if [[ -f $state/redis.pid ]]; then
    local pid; pid=$(cat "$state/redis.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$state/redis.pid"
  fi
  if [[ -f $state/pg/postmaster.pid ]]; then
    as_postgres "$pg_bin/pg_ctl" -D "$state/pg" -m fast -w stop >/dev/null || true
  fi
}

case "${1:-}" in
  stop) stop_all; say "demo: stopped"; exit 0 ;;
  --once) once=1 ;;
  "") ;;
  *) echo "usage: scripts/demo.sh [--once|stop]" >&2; exit 2 ;;
esac

say "1/6 installing dependencies"
bash scripts/install-deps.sh
say "2/6 building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBULLMQ_WORKER_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target bullmq-worker
[[ -d scripts/node/node_modules ]] || npm ci --prefix scripts/node --no-audit --no-fund --loglevel=error

say "3/6 starting Redis (port $redis_port) and PostgreSQL (port $pg_port) in .state/"
mkdir -p "$state/redis" "$state/storage" "$state/pg-run"
chmod 755 "$state"
if ! { [[ -f $state/redis.pid ]] && kill -0 "$(cat "$state/redis.pid")" 2>/dev/null; }; then
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$state/redis" --save 60 1 \
    --daemonize yes --pidfile "$state/redis.pid" --logfile "$state/redis.log"
  for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
redis-cli -p "$redis_port" ping >/dev/null || { echo "demo: Redis did not start (see .state/redis.log)" >&2; exit 1; }
if [[ ! -f $state/pg/PG_VERSION ]]; then
  mkdir -p "$state/pg"
  ((EUID == 0)) && chown postgres:postgres "$state/pg" "$state/pg-run"
  as_postgres "$pg_bin/initdb" -D "$state/pg" -U postgres --auth=trust >/dev/null
fi
((EUID == 0)) && chown postgres:postgres "$state/pg-run"
if [[ ! -f $state/pg/postmaster.pid ]]; then
  as_postgres "$pg_bin/pg_ctl" -D "$state/pg" -l "$state/pg-run/postgres.log" -w \
    -o "-p $pg_port -k $state/pg-run -c listen_addresses=127.0.0.1" start >/dev/null
fi
psql_q() { psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }
psql_q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'bullmq_demo'" | grep -q 1 ||
  psql_q -d postgres -c "CREATE DATABASE bullmq_demo" >/dev/null
database_url="postgresql://postgres@127.0.0.1:$pg_port/bullmq_demo"
redis_url="redis://127.0.0.1:$redis_port"
build/bullmq-worker migrate --database-url "$database_url"

say "4/6 generating a sample upload and enqueueing it (scripts/producer.mjs --flow)"
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

say "5/6 running bullmq-worker and Bull Board"
if ! { [[ -f $state/worker.pid ]] && kill -0 "$(cat "$state/worker.pid")" 2>/dev/null; }; then
  LOG_FORMAT=json build/bullmq-worker run --queue "$queue" --redis "$redis_url" \
    --database-url "$database_url" --storage-base-path "$state/storage" --concurrency 4 \
    --name demo-worker --metrics-max-data-points 120 --http-port 9464 --http-host 127.0.0.1 \
    >>"$state/worker.log" 2>&1 &
  echo $! >"$state/worker.pid"
fi
if ! { [[ -f $state/board.pid ]] && kill -0 "$(cat "$state/board.pid")" 2>/dev/null; }; then
  node scripts/bull-board.mjs --queue "$queue" --redis "$redis_url" --port "$board_port" \
    >>"$state/board.log" 2>&1 &
  echo $! >"$state/board.pid"
fi
deadline=$((SECONDS + 120))
status=queued
while ((SECONDS < deadline)); do
  read -r done total status < <(psql_q -d bullmq_demo -tA -F ' ' -c "
    SELECT count(*) FILTER (WHERE f.status IN ('completed','failed')), count(*), p.status
    FROM processing_jobs p LEFT JOIN file_extractions f ON f.run_id = p.run_id
    WHERE p.run_id = '$run_id' GROUP BY p.status")
  width=30
  filled=$((total > 0 ? done * width / total : 0))
  printf '\r  [%-*s] %d/%d files, batch %s   ' "$width" "$(printf '%*s' "$filled" '' | tr ' ' '#')" "$done" "$total" "$status"
  [[ $status == queued || $status == processing ]] || break
  sleep 0.2
done
echo

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

ok=0
[[ $status == completed_with_errors ]] && ok=1
if ((once)); then
  stop_all
  if ((ok)); then say "demo: the batch completed as expected (6 files extracted, 1 corrupt file failed)"; exit 0; fi
  echo "demo: the batch ended as '$status', expected completed_with_errors (see .state/worker.log)" >&2
  exit 1
fi
say "Bull Board: http://127.0.0.1:$board_port/   worker metrics: http://127.0.0.1:9464/metrics"
say "Redis $redis_url, PostgreSQL $database_url, worker log .state/worker.log"
say "scripts/demo.sh stop   stops them"
((ok))
