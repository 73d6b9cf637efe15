#!/usr/bin/env bash
# Second bisection of the ITL tail (issue 7.1): is it V8's background threads sharing the event loop's CPU?
# `taskset -c N` pins every thread of a Node process (main, V8 platform workers: concurrent compiler and
# GC helpers, libuv pool) to one CPU, so a background compile or marking task preempts the event loop
# for a scheduler slice (milliseconds). Same stub (CPU 6), clients pinned to one CPU (4), to two
# (4-5), unpinned, and on one CPU with V8's --single-threaded (no background threads).
#   bash bench/gpu/itl-bisect-pinning.sh [SECONDS] [OUT_DIR]
set -u
secs=${1:-5}
out=${2:-${OUT:-/tmp}}
for step in 12.8 1.28; do
  rate=$(python3 -c "print(round(64000/$step))")
  taskset -c 6 node bench/lib/stream-stub.mjs --step-ms "$step" > "$out/stub.port" &
  stub=$!
  sleep 1
  port=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['port'])" "$out/stub.port")
  url=http://127.0.0.1:$port
  echo "== stub step $step ms (64 streams, $rate tokens/s)"
  echo -n "python, CPU 4: "; taskset -c 4 python3 bench/gpu/ref-client.py "$url" 64 "$secs"
  for mode in net http; do
    echo -n "node $mode, CPU 4: "; taskset -c 4 node bench/gpu/node-ref-client.mjs "$url" 64 "$secs" $mode
    echo -n "node $mode, CPU 4 --single-threaded: "; taskset -c 4 node --single-threaded bench/gpu/node-ref-client.mjs "$url" 64 "$secs" $mode
    echo -n "node $mode, CPUs 4-5: "; taskset -c 4-5 node bench/gpu/node-ref-client.mjs "$url" 64 "$secs" $mode
    echo -n "node $mode, CPUs 0-5 (stub alone on 6): "; taskset -c 0-5 node bench/gpu/node-ref-client.mjs "$url" 64 "$secs" $mode
  done
  kill $stub; wait $stub 2>/dev/null
  for cpus in 4 4-5 0-5; do
    echo -n "carbonbench load generator, CPUs $cpus: "
    node bench/client.mjs --json --concurrency 1 --paced-concurrency 64 --rate "$rate" --window "$secs" --client-cpus $cpus --stub-cpus 6 2>/dev/null \
      | python3 -c "import json,sys; r=json.load(sys.stdin)['paced'][0]; print(json.dumps({k: r[k] for k in ('itl_error_ms_p50','itl_error_ms_p99','itl_error_ms_max','itl_errors_over_1ms','itl_errors_over_1ms_during_gc','itl_pairs','gc_pause_ms_max','event_loop_delay_ms_p99','cpu_core_fraction')}))"
  done
  echo -n "carbonbench load generator, CPU 4 --single-threaded: "
  node --single-threaded bench/client.mjs --json --concurrency 1 --paced-concurrency 64 --rate "$rate" --window "$secs" --client-cpus 4 --stub-cpus 6 2>/dev/null \
    | python3 -c "import json,sys; r=json.load(sys.stdin)['paced'][0]; print(json.dumps({k: r[k] for k in ('itl_error_ms_p50','itl_error_ms_p99','itl_error_ms_max','itl_errors_over_1ms','itl_errors_over_1ms_during_gc','itl_pairs','gc_pause_ms_max','event_loop_delay_ms_p99','cpu_core_fraction')}))"
done
