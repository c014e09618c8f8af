#!/usr/bin/env bash
# Benchmark: the official Node.js bullmq Worker (6.7.0) against bullmq-worker,
# alternating in one run on the same private redis-server and the same
# pre-added no-op jobs, at several concurrencies, several repeats, medians.
# Prints jobs/s, worker CPU per job, peak RSS, time to the first finished job,
# Redis CPU per job and the Redis-bound limit, with the ratios to Node and the
# targets, and the client CPU floor of one blocking Redis round trip (measured
# by build/round-trip-floor before and after the runs); writes the same as JSON
# to OUT/bench-results.json.
#
# With --cluster [N] the same runs go to a private Redis Cluster of N masters
# (default 3, no replicas) instead: the queue is hash-tagged ({bench}), the
# workers get a redis+cluster:// URL, and the Redis figures are read from the
# master that owns the queue's slot.
#
# With --scenario NAME it runs another measurement instead (scripts/bench/README.md):
#   throughput  the above (the default)
#   latency     add -> active of an idle worker, Node's and bullmq-worker's interleaved
#               (scenarios/latency.mjs; OUT/bench-latency.json)
#   workers     1, 2 and 4 worker processes at concurrency 10 on one queue: aggregate
#               jobs/s against the Redis-bound limit (scenarios/workers.mjs; OUT/bench-workers.json)
#   long        a long run (default one million jobs, 100 B to 1 MiB payloads) at
#               concurrency 100: the worker's RSS and open fds every 10 s
#               (scenarios/long.mjs; OUT/bench-long.json)
#   cpu         jobs that burn 300 ms of CPU each, 2x and 4x as many slots as CPUs, lock
#               duration 1 s: locks lost, stalled recoveries and jobs processed twice,
#               Node's Worker and bullmq-worker one after the other
#               (scenarios/cpu.mjs; OUT/bench-cpu.json)
#   pipeline    the document pipeline on a seeded mixed corpus at concurrency = CPUs:
#               documents/s per core, the time split (database, sandbox start,
#               extraction), with a new extraction child per document and with
#               children that stay; PDF extraction against pdftotext, the sandbox's overhead;
#               starts its own PostgreSQL too (scenarios/pipeline.mjs; OUT/bench-pipeline.json)
#   instructions  user-space instructions per job of the native worker under valgrind's
#               callgrind (no Node; repeats to the instruction, for comparing two builds;
#               not in `all`; scenarios/instructions.mjs; OUT/bench-instructions.json)
#   all         the first six in turn, on the same redis-server
#
# It prints figures; it is not a test. Exit status is 0 whatever the figures
# and non-zero only if something broke (a worker died, jobs failed, or not all
# jobs completed within a generous bound).
#
# Usage: scripts/bench.sh [--scenario NAME] [--jobs N] [--repeats R] [--concurrency "1 10 100"]
#                         [--binary PATH] [--out DIR] [--build] [--native-args "ARGS"]
#                         [--no-warmup] [--quick] [--cluster [N]]
#                         [--samples N] [--processes "1 2 4"] [--no-node] [--sample-interval S]
#                         [--documents N] [--seed S] [--pool-documents N]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
bench_dir="$here/bench"

scenario=throughput
jobs=""
repeats=3
concurrency=""
samples=""
processes="1 2 4"
sample_interval=""
no_node=0
documents=""
seed=1
pool_documents=100
binary=""
out=""
force_build=0
warmup=1
native_args=""
quick=0
cluster=0
cluster_masters=3
jobs_set=0 repeats_set=0 concurrency_set=0

usage() {
  cat <<'EOF'
Usage: scripts/bench.sh [options]
  --scenario NAME       throughput (default), latency, workers, long, cpu, pipeline,
                        instructions (needs valgrind), or all (the first six in turn)
  --jobs N              jobs per run (default 20000; long: 1000000; cpu: 100; instructions: 2000)
  --repeats R           runs per worker and concurrency; medians are printed (default 3;
                        throughput, workers and pipeline; cpu: default 1, counts summed)
  --concurrency "LIST"  concurrencies to run, space-separated (default "1 10 100"; workers:
                        "10" per process; cpu: 2x and 4x the CPUs; latency, long and pipeline
                        take the first value, default 1, 100 and the number of CPUs; instructions: "1 10")
  --binary PATH         bullmq-worker binary (default build/bullmq-worker, built if missing)
  --build               bring the default binary and the scenarios' helpers (build/round-trip-floor,
                        build/extract-bench) up to date first (flocked incremental build; the
                        helpers are built when missing anyway)
  --out DIR             where the JSON results (bench-results.json, bench-SCENARIO.json) and the
                        worker logs go (default: a new temp dir)
  --native-args "ARGS"  extra arguments for `bullmq-worker run` (experiments, e.g. "--processor-threads 1")
  --no-warmup           skip the uncounted warm-up run of each worker
  --quick               smoke run: 2000 jobs, 1 repeat, concurrency "1 10", no warm-up;
                        latency 30 samples (+5 warm-up); workers 2000 jobs, 1 repeat; long
                        20000 jobs, a sample every 1 s; cpu 20 jobs (~1 min); pipeline 300
                        documents, 1 repeat, 5 extraction rounds (~30 s)
  --cluster [N]         run against a private Redis Cluster of N masters (default 3, no
                        replicas) instead of one redis-server; the queue is {bench}
                        (throughput only)
  --samples N           latency: measured jobs per worker (default 200)
  --processes "LIST"    workers: process counts to run (default "1 2 4")
  --no-node             workers and cpu: skip the Node.js Workers' runs
  --sample-interval S   long: seconds between RSS/fd samples (default 10)
  --documents N         pipeline: documents in the corpus (default 2000)
  --seed S              pipeline: the corpus generator's seed, a positive integer (default 1)
  --pool-documents N    pipeline: the runs with extraction children that stay use
                        --documents-per-extractor N (default 100; 0: no such runs)
  -h, --help            this text
EOF
}

while (($#)); do
  case "$1" in
    --scenario) scenario=${2:?--scenario needs a value}; shift 2 ;;
    --samples) samples=${2:?--samples needs a value}; shift 2 ;;
    --processes) processes=${2:?--processes needs a value}; shift 2 ;;
    --no-node) no_node=1; shift ;;
    --sample-interval) sample_interval=${2:?--sample-interval needs a value}; shift 2 ;;
    --documents) documents=${2:?--documents needs a value}; shift 2 ;;
    --seed) seed=${2:?--seed needs a value}; shift 2 ;;
    --pool-documents) pool_documents=${2:?--pool-documents needs a value}; shift 2 ;;
    --jobs) jobs=${2:?--jobs needs a value}; jobs_set=1; shift 2 ;;
    --repeats) repeats=${2:?--repeats needs a value}; repeats_set=1; shift 2 ;;
    --concurrency) concurrency=${2:?--concurrency needs a value}; concurrency_set=1; shift 2 ;;
    --binary) binary=${2:?--binary needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    --build) force_build=1; shift ;;
    --native-args) native_args=${2?--native-args needs a value}; shift 2 ;;
    --no-warmup) warmup=0; shift ;;
    --quick) quick=1; shift ;;
    --cluster)
      cluster=1
      if [[ ${2-} =~ ^[0-9]+$ ]]; then cluster_masters=$2; shift 2; else shift; fi ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
case $scenario in
  throughput|latency|workers|long|cpu|pipeline|instructions) scenarios=("$scenario") ;;
  all) scenarios=(throughput latency workers long cpu pipeline) ;;
  *) echo "bench: --scenario must be throughput, latency, workers, long, cpu, pipeline, instructions or all, got '$scenario'" >&2; exit 2 ;;
esac
if ((cluster)) && [[ $scenario != throughput ]]; then
  echo "bench: --cluster runs only the throughput scenario" >&2; exit 2
fi
if ((quick)); then
  ((repeats_set)) || repeats=1
  warmup=0
  [[ -n $samples ]] || samples=30
  [[ -n $sample_interval ]] || sample_interval=1
fi
[[ -n $samples ]] || samples=200
if [[ -z $documents ]]; then if ((quick)); then documents=300; else documents=2000; fi; fi
[[ -n $sample_interval ]] || sample_interval=10
# Per-scenario sizes: --jobs and --concurrency, when given, apply to each scenario run.
jobs_for() {
  if ((jobs_set)); then echo "$jobs"; return; fi
  case $1 in
    throughput|workers) if ((quick)); then echo 2000; else echo 20000; fi ;;
    instructions) if ((quick)); then echo 500; else echo 2000; fi ;;
    long) if ((quick)); then echo 20000; else echo 1000000; fi ;;
    cpu) if ((quick)); then echo 20; else echo 100; fi ;;
  esac
}
concurrency_for() {
  if ((concurrency_set)); then
    case $1 in
      latency|long|pipeline) read -r -a first <<<"${concurrency//,/ }"; echo "${first[0]}" ;;
      *) echo "$concurrency" ;;
    esac
    return
  fi
  case $1 in
    throughput) if ((quick)); then echo "1 10"; else echo "1 10 100"; fi ;;
    workers) echo 10 ;;
    latency) echo 1 ;;
    long) echo 100 ;;
    cpu) local n; n=$(nproc); echo "$((2 * n)) $((4 * n))" ;;
    pipeline) nproc ;;
    instructions) echo "1 10" ;;
  esac
}

[[ -z $jobs || $jobs =~ ^[1-9][0-9]*$ ]] || { echo "bench: --jobs must be a positive integer, got '$jobs'" >&2; exit 2; }
[[ $samples =~ ^[1-9][0-9]*$ ]] || { echo "bench: --samples must be a positive integer, got '$samples'" >&2; exit 2; }
[[ $sample_interval =~ ^[0-9]+(\.[0-9]+)?$ ]] && [[ ! $sample_interval =~ ^0+(\.0+)?$ ]] ||
  { echo "bench: --sample-interval must be a positive number of seconds, got '$sample_interval'" >&2; exit 2; }
[[ $processes =~ ^[[:space:]]*[1-9][0-9]*([[:space:],]+[1-9][0-9]*)*[[:space:]]*$ ]] ||
  { echo "bench: --processes must list positive integers, got '$processes'" >&2; exit 2; }
[[ $repeats =~ ^[1-9][0-9]*$ ]] || { echo "bench: --repeats must be a positive integer, got '$repeats'" >&2; exit 2; }
[[ $documents =~ ^[1-9][0-9]*$ ]] || { echo "bench: --documents must be a positive integer, got '$documents'" >&2; exit 2; }
[[ $pool_documents =~ ^[0-9]+$ ]] || { echo "bench: --pool-documents must be a whole number, got '$pool_documents'" >&2; exit 2; }
[[ $seed =~ ^[1-9][0-9]*$ ]] || { echo "bench: --seed must be a positive integer, got '$seed'" >&2; exit 2; }
[[ -z $concurrency || $concurrency =~ ^[[:space:]]*[1-9][0-9]*([[:space:],]+[1-9][0-9]*)*[[:space:]]*$ ]] ||
  { echo "bench: --concurrency must list positive integers, got '$concurrency'" >&2; exit 2; }
[[ $cluster_masters =~ ^[1-9][0-9]*$ ]] && ((cluster_masters <= 64)) ||
  { echo "bench: --cluster takes a number of masters from 1 to 64, got '$cluster_masters'" >&2; exit 2; }

for tool in node npm redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
# The pipeline scenario also runs its own PostgreSQL and poppler's pdftotext.
pg_bin=${PG_BIN_DIR:-/usr/lib/postgresql/15/bin}
need_pipeline=0
[[ " ${scenarios[*]} " == *" pipeline "* ]] && need_pipeline=1
if ((need_pipeline)); then
  for tool in pdftotext "$pg_bin/initdb" "$pg_bin/pg_ctl" "$pg_bin/createdb"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
  done
fi

if [[ " ${scenarios[*]} " == *" instructions "* ]]; then
  for tool in valgrind callgrind_control callgrind_annotate; do
    command -v "$tool" >/dev/null || { echo "bench: $tool not found (the instructions scenario needs valgrind: apt-get install valgrind)" >&2; exit 1; }
  done
fi

cd "$root"

# The native binary: the default one is built when missing (or with --build); so is
# the round-trip floor probe (bench/round_trip_floor.cpp), whatever --binary says.
build_targets() {
  if [[ ! -d build ]]; then
    echo "bench: configuring build/ (Release)"
    flock /tmp/bullmq-build.lock cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  elif [[ ! -x build/round-trip-floor ]]; then
    # build/ may predate the probe's target: let CMake read CMakeLists.txt again.
    flock /tmp/bullmq-build.lock cmake -S . -B build >/dev/null
  fi
  local names=("${@/#/build/}")
  echo "bench: building ${names[*]}"
  flock /tmp/bullmq-build.lock cmake --build build -j2 --target "$@"
}
targets=()
if [[ -z $binary ]]; then
  binary="$root/build/bullmq-worker"
  if [[ ! -x $binary ]] || ((force_build)); then targets+=(bullmq-worker); fi
fi
floor_probe="$root/build/round-trip-floor"
# The probe is needed by the throughput scenario (round trips) and the latency one
# (its --idle-claim mode, the idle path's floor).
need_probe=0
[[ " ${scenarios[*]} " == *" throughput "* || " ${scenarios[*]} " == *" latency "* ]] && need_probe=1
if ((need_probe)) && { [[ ! -x $floor_probe ]] || ((force_build)); }; then targets+=(round-trip-floor); fi
# The pipeline scenario's extraction timer (bench/extract_bench.cpp).
extract_bench="$root/build/extract-bench"
if ((need_pipeline)) && { [[ ! -x $extract_bench ]] || ((force_build)); }; then targets+=(extract-bench); fi
((${#targets[@]} == 0)) || build_targets "${targets[@]}"
((need_probe == 0)) || [[ -x $floor_probe ]] || { echo "bench: $floor_probe is not an executable" >&2; exit 1; }
[[ -x $binary ]] || { echo "bench: $binary is not an executable" >&2; exit 1; }
((need_pipeline == 0)) || [[ -x $extract_bench ]] || { echo "bench: $extract_bench is not an executable" >&2; exit 1; }
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")

# The pinned Node.js bullmq.
if [[ ! -d $bench_dir/node_modules ]]; then
  echo "bench: npm ci in scripts/bench"
  (cd "$bench_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
# The pipeline scenario plays the backend with scripts/producer.mjs (its packages: pg, bullmq).
if ((need_pipeline)) && [[ ! -d $here/node/node_modules ]]; then
  echo "bench: npm ci in scripts/node"
  npm ci --prefix "$here/node" --no-audit --no-fund --loglevel=error
fi

work=$(mktemp -d /tmp/bullmq-bench-work.XXXXXX)
if [[ -z $out ]]; then out=$(mktemp -d /tmp/bullmq-bench-results.XXXXXX); fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

redis_pid=""
cluster_pids=()
driver_pid=""
pg_dir=""
pg_pid=""
as_postgres() { if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi; }
# Stops the PostgreSQL this script started: pg_ctl stop (fast), bounded; then its
# postmaster's pid; then its folder goes.
stop_postgres() {
  [[ -n $pg_dir ]] || return 0
  if [[ -n $pg_pid ]] && kill -0 "$pg_pid" 2>/dev/null; then
    as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w -t 20 stop >/dev/null 2>&1 || true
    local i
    for ((i = 0; i < 100; i++)); do kill -0 "$pg_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pg_pid" 2>/dev/null; then
      kill -QUIT "$pg_pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  rm -rf "$pg_dir"
  pg_dir="" pg_pid=""
}
cleanup() {
  local rc=$?
  if [[ -n $driver_pid ]] && kill -0 "$driver_pid" 2>/dev/null; then
    kill "$driver_pid" 2>/dev/null || true
    wait "$driver_pid" 2>/dev/null || true
  fi
  if [[ -n $redis_pid ]] && kill -0 "$redis_pid" 2>/dev/null; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  local pid
  for pid in "${cluster_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${cluster_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  stop_postgres
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private Redis Cluster of $cluster_masters masters, no replicas, without
# persistence: one redis-server per node on a free loopback port whose cluster
# bus port (port + 10000) is free too, each in its own directory under $work;
# slots split evenly (CLUSTER ADDSLOTSRANGE), a distinct config epoch each,
# CLUSTER MEET from the first node; then a bounded wait until every node says
# cluster_state:ok and knows all the nodes and all 16384 slots. Each node
# announces 127.0.0.1: a node never met by another (--cluster 1) would
# otherwise list itself with an empty host in CLUSTER SLOTS.
start_cluster() {
  local version
  version=$(redis-server --version | sed -n 's/.* v=\([0-9]*\)\..*/\1/p')
  [[ -n $version ]] && ((version >= 7)) ||
    { echo "bench: --cluster needs redis-server 7 or newer (CLUSTER ADDSLOTSRANGE)" >&2; exit 1; }
  local ports
  ports=$(node -e "$(cat <<'JS'
const net = require('net');
const want = Number(process.argv[1]);
const held = [];
const listen = (port) => new Promise((resolve) => {
  const s = net.createServer();
  s.once('error', () => resolve(null));
  s.listen(port, '127.0.0.1', () => resolve(s));
});
(async () => {
  const picked = [];
  for (let tries = 0; picked.length < want && tries < 500; tries++) {
    const s = await listen(0);
    if (!s) continue;
    held.push(s);
    const port = s.address().port;
    if (port + 10000 > 65535) continue;
    const bus = await listen(port + 10000);
    if (!bus) continue;
    held.push(bus);
    picked.push(port);
  }
  for (const s of held) s.close();
  if (picked.length < want) { console.error(`found only ${picked.length} of ${want} free port pairs`); process.exit(1); }
  console.log(picked.join(' '));
})();
JS
)" "$cluster_masters") || { echo "bench: could not find free ports for the cluster" >&2; exit 1; }
  read -r -a cluster_ports <<<"$ports"
  local p dir
  for p in "${cluster_ports[@]}"; do
    dir="$work/cluster-$p"
    mkdir -p "$dir"
    redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
      --logfile "$dir/redis.log" --daemonize no \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-announce-ip 127.0.0.1 &
    cluster_pids+=($!)
  done
  local i pid
  for i in "${!cluster_ports[@]}"; do
    p=${cluster_ports[$i]} pid=${cluster_pids[$i]}
    for _ in $(seq 1 100); do
      redis-cli -h 127.0.0.1 -p "$p" ping >/dev/null 2>&1 && break
      kill -0 "$pid" 2>/dev/null ||
        { echo "bench: cluster node redis-server on port $p did not start" >&2; cat "$work/cluster-$p/redis.log" >&2; exit 1; }
      sleep 0.05
    done
    redis-cli -h 127.0.0.1 -p "$p" ping >/dev/null || { echo "bench: cluster node on port $p did not answer" >&2; exit 1; }
  done
  # Slots: master i gets [i * 16384 / N, (i + 1) * 16384 / N - 1].
  local n=${#cluster_ports[@]} reply
  for i in "${!cluster_ports[@]}"; do
    p=${cluster_ports[$i]}
    reply=$(redis-cli -h 127.0.0.1 -p "$p" cluster set-config-epoch $((i + 1)) 2>&1)
    [[ $reply == OK ]] || { echo "bench: CLUSTER SET-CONFIG-EPOCH on port $p: $reply" >&2; exit 1; }
    reply=$(redis-cli -h 127.0.0.1 -p "$p" cluster addslotsrange $((i * 16384 / n)) $(((i + 1) * 16384 / n - 1)) 2>&1)
    [[ $reply == OK ]] || { echo "bench: CLUSTER ADDSLOTSRANGE on port $p: $reply" >&2; exit 1; }
  done
  for p in "${cluster_ports[@]:1}"; do
    reply=$(redis-cli -h 127.0.0.1 -p "${cluster_ports[0]}" cluster meet 127.0.0.1 "$p" 2>&1)
    [[ $reply == OK ]] || { echo "bench: CLUSTER MEET 127.0.0.1 $p: $reply" >&2; exit 1; }
  done
  local ok info
  for _ in $(seq 1 300); do   # 300 × 0.1 s: at most ~30 s
    ok=1
    for p in "${cluster_ports[@]}"; do
      info=$(redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | tr -d '\r')
      if ! grep -qx 'cluster_state:ok' <<<"$info" || ! grep -qx "cluster_known_nodes:$n" <<<"$info" ||
         ! grep -qx 'cluster_slots_ok:16384' <<<"$info"; then
        ok=0
        break
      fi
    done
    ((ok)) && break
    sleep 0.1
  done
  if ! ((ok)); then
    echo "bench: the cluster did not reach cluster_state:ok on every node within 30 s" >&2
    for p in "${cluster_ports[@]}"; do
      echo "--- node 127.0.0.1:$p" >&2
      redis-cli -h 127.0.0.1 -p "$p" cluster info 2>&1 | tr -d '\r' | grep -E '^cluster_(state|known_nodes|slots_ok|slots_assigned)' >&2 || true
    done
    exit 1
  fi
  redis_url="redis+cluster://$(printf '127.0.0.1:%s,' "${cluster_ports[@]}")"
  redis_url=${redis_url%,}
  echo "bench: Redis Cluster of $n master(s), no replicas, ports ${cluster_ports[*]}: cluster_state:ok on every node"
}

if ((cluster)); then
  cluster_ports=()
  start_cluster
else
  # A private redis-server on a free loopback port, without persistence.
  port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    --logfile "$work/redis.log" --daemonize no &
  redis_pid=$!
  for _ in $(seq 1 100); do
    redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
    kill -0 "$redis_pid" 2>/dev/null || { echo "bench: redis-server did not start" >&2; cat "$work/redis.log" >&2; exit 1; }
    sleep 0.05
  done
  redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null || { echo "bench: redis-server did not answer" >&2; exit 1; }
  redis_url="redis://127.0.0.1:$port"
fi

# Run a private copy, so that a rebuild of build/ during the run cannot swap
# the binary between runs.
cp "$binary" "$work/bullmq-worker"
((need_probe == 0)) || cp "$floor_probe" "$work/round-trip-floor"
binary_sha=$(sha256sum "$work/bullmq-worker" | cut -d' ' -f1)
echo "bench: binary $binary (sha256 ${binary_sha:0:16}…), run from a copy in $work"
if ((need_pipeline)); then
  # The files plugin goes next to the copy (where the worker looks first), and so
  # does the extraction timer.
  plugin=""
  for candidate in "$(dirname "$binary")/bullmq-worker-files.so" "$(dirname "$binary")/../lib/bullmq-worker/bullmq-worker-files.so"; do
    if [[ -f $candidate ]]; then plugin=$candidate; break; fi
  done
  [[ -n $plugin ]] || { echo "bench: no bullmq-worker-files.so next to $binary (the pipeline scenario needs the files plugin)" >&2; exit 1; }
  cp "$plugin" "$work/bullmq-worker-files.so"
  cp "$extract_bench" "$work/extract-bench"

  # A private PostgreSQL 15 on a free loopback port, its data and socket in a new
  # folder under /tmp (the postgres user must reach it), PostgreSQL's default
  # settings (fsync on), stopped by stop_postgres on exit.
  pg_dir=$(mktemp -d /tmp/bullmq-bench-pg.XXXXXX)
  ((EUID != 0)) || chown postgres:postgres "$pg_dir"
  pg_port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  as_postgres "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$pg_dir/initdb.log" 2>&1 ||
    { echo "bench: initdb failed" >&2; cat "$pg_dir/initdb.log" >&2; exit 1; }
  as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w -t 30 \
    -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1" start >/dev/null ||
    { echo "bench: PostgreSQL did not start" >&2; tail -n 20 "$pg_dir/postgres.log" >&2; exit 1; }
  pg_pid=$(head -n 1 "$pg_dir/data/postmaster.pid")
  "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres bench ||
    { echo "bench: createdb failed" >&2; exit 1; }
  database_url="postgresql://postgres@127.0.0.1:$pg_port/bench"
  echo "bench: PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') (pid $pg_pid) at $database_url"
fi

common=(--redis "$redis_url" --binary "$work/bullmq-worker" --out "$out" --logs "$out/logs")
[[ -z $native_args ]] || common+=(--native-args "$native_args")
export BENCH_BINARY_SOURCE=$binary BENCH_BINARY_SHA256=$binary_sha BENCH_CLK_TCK=$(getconf CLK_TCK)
BENCH_GIT_REVISION=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || true)
export BENCH_GIT_REVISION

# One driver, in the background so that a SIGTERM to this script stops the run at once
# (the driver kills its workers by pid on SIGTERM); returns the driver's exit status.
run_driver() {
  node "$@" &
  driver_pid=$!
  local rc=0
  wait "$driver_pid" || rc=$?
  driver_pid=""
  return "$rc"
}

run_scenario() {
  local name=$1 args
  case $name in
    throughput)
      args=("${common[@]}" --floor-probe "$work/round-trip-floor" --jobs "$(jobs_for throughput)" --repeats "$repeats"
            --concurrency "$(concurrency_for throughput)")
      ((warmup)) || args+=(--no-warmup)
      run_driver "$bench_dir/run.mjs" "${args[@]}" ;;
    latency)
      args=("${common[@]}" --floor-probe "$work/round-trip-floor" --samples "$samples"
            --concurrency "$(concurrency_for latency)")
      ((quick)) && args+=(--warmup-samples 5)
      run_driver "$bench_dir/scenarios/latency.mjs" "${args[@]}" ;;
    workers)
      args=("${common[@]}" --jobs "$(jobs_for workers)" --repeats "$repeats" --processes "$processes"
            --concurrency "$(concurrency_for workers)")
      ((no_node)) && args+=(--no-node)
      run_driver "$bench_dir/scenarios/workers.mjs" "${args[@]}" ;;
    long)
      args=("${common[@]}" --jobs "$(jobs_for long)" --concurrency "$(concurrency_for long)"
            --sample-interval "$sample_interval")
      run_driver "$bench_dir/scenarios/long.mjs" "${args[@]}" ;;
    cpu)
      # One repeat unless --repeats says otherwise: a run takes N × 300 ms for Node.
      args=("${common[@]}" --jobs "$(jobs_for cpu)" --concurrency "$(concurrency_for cpu)")
      if ((repeats_set)); then args+=(--repeats "$repeats"); fi
      ((no_node)) && args+=(--no-node)
      run_driver "$bench_dir/scenarios/cpu.mjs" "${args[@]}" ;;
    pipeline)
      args=("${common[@]}" --extract-bench "$work/extract-bench" --database-url "$database_url"
            --postmaster-pid "$pg_pid" --documents "$documents" --seed "$seed" --repeats "$repeats"
            --concurrency "$(concurrency_for pipeline)" --pdftotext "$(command -v pdftotext)")
      ((quick)) && args+=(--extract-repeats 5)
      if ((pool_documents > 0)); then args+=(--pool-documents "$pool_documents"); else args+=(--no-pool); fi
      run_driver "$bench_dir/scenarios/pipeline.mjs" "${args[@]}" ;;
    instructions)
      args=("${common[@]}" --jobs "$(jobs_for instructions)" --concurrency "$(concurrency_for instructions)")
      ((quick)) && args+=(--warmup-jobs 50)
      run_driver "$bench_dir/scenarios/instructions.mjs" "${args[@]}" ;;
  esac
}

if [[ $scenario != all ]]; then
  run_scenario "$scenario"
else
  failed=()
  for name in "${scenarios[@]}"; do
    echo
    echo "=== bench: scenario $name"
    run_scenario "$name" || failed+=("$name")
  done
  echo
  if ((${#failed[@]})); then
    echo "bench: scenario(s) that broke: ${failed[*]}" >&2
    exit 1
  fi
  echo "bench: all scenarios ran; results in $out"
fi
