#!/usr/bin/env bash
# Where the ITL tail at concurrency 64 comes from (issue 7.1): the same paced stub (bench/lib/stream-stub.mjs,
# pinned to CPU 6), read by (1) a C-level reference client (Python, epoll, bench/gpu/ref-client.py),
# (2) bare node:http (bench/gpu/node-ref-client.mjs: stamps in the 'data' event, no parsing) under
# V8 GC settings, (3) carbonbench's load generator (bench/client.mjs) under the same settings; every
# client pinned to CPU 4. Prints one JSON line per run.
#   bash bench/gpu/itl-bisect.sh [SECONDS] [OUT_DIR]
set -u
secs=${1:-5}
out=${2:-${OUT:-/tmp}}
for step in 12.8 1.28; do
  taskset -c 6 node bench/lib/stream-stub.mjs --step-ms "$step" > "$out/stub.port" &
  stub=$!
  sleep 1
  port=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['port'])" "$out/stub.port")
  url=http://127.0.0.1:$port
  echo "== stub step $step ms (64 streams: $(python3 -c "print(round(64000/$step))") tokens/s)"
  taskset -c 4 python3 bench/gpu/ref-client.py "$url" 64 "$secs"
  for flags in "" "--single-threaded-gc" "--max-semi-space-size=1" "--max-semi-space-size=64"; do
    echo -n "node:http [$flags] "
    taskset -c 4 node $flags bench/gpu/node-ref-client.mjs "$url" 64 "$secs" plain
  done
  kill $stub; wait $stub 2>/dev/null
  rate=$(python3 -c "print(round(64000/$step))")
  for flags in "" "--single-threaded-gc" "--max-semi-space-size=1"; do
    echo -n "carbonbench load generator [$flags] "
    node $flags bench/client.mjs --json --concurrency 1 --paced-concurrency 64 --rate "$rate" --window "$secs" --cpus 4,6 2>/dev/null \
      | python3 -c "import json,sys; r=json.load(sys.stdin)['paced'][0]; print(json.dumps({k: r[k] for k in ('itl_error_ms_p50','itl_error_ms_p99','itl_error_ms_max','itl_errors_over_1ms','itl_errors_over_1ms_during_gc','itl_pairs','gc_pauses','gc_pause_ms_max','event_loop_delay_ms_p99','cpu_core_fraction')}))"
  done
done
