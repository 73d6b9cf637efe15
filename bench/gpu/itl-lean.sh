#!/usr/bin/env bash
# Issue 7.1, session 4: the lean HTTP/1.1 reader (src/workload/http1.ts) against the previous build
# (node:http; a dist/ built from the commit before, passed as BEFORE_DIST), with the Python epoll
# reference client on the same paced stub for the floor. bench/client.mjs's default pinning (stub on the
# last CPU, client on the others). Writes client-{new,before}{,-5k}.json and ref.txt to OUT_DIR.
#   bash bench/gpu/itl-lean.sh [SECONDS] [OUT_DIR] [BEFORE_DIST]
set -u
secs=${1:-5}
out=${2:-${OUT:-/tmp}}
before=${3:-.bench-dist-before}
last=$(( $(nproc) - 1 ))
for build in new before; do
  dist=(); [ "$build" = before ] && dist=(--dist "$before")
  node bench/client.mjs --json --window "$secs" "${dist[@]}" > "$out/client-$build.json" 2> "$out/client-$build.err"
  node bench/client.mjs --json --window "$secs" --rate 5000 --concurrency 1 "${dist[@]}" > "$out/client-$build-5k.json" 2>> "$out/client-$build.err"
done
for step in 12.8 1.28; do
  for c in 64 256; do
    st=$(python3 -c "print($step * $c / 64)")
    taskset -c "$last" node bench/lib/stream-stub.mjs --step-ms "$st" > "$out/stub.port" &
    stub=$!
    sleep 1
    port=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['port'])" "$out/stub.port")
    echo -n "python epoll reference, c=$c, $(python3 -c "print(round($c*1000/$st))") tokens/s: " >> "$out/ref.txt"
    taskset -c "0-$((last - 1))" python3 bench/gpu/ref-client.py "http://127.0.0.1:$port" "$c" "$secs" >> "$out/ref.txt" 2>&1
    kill $stub; wait $stub 2>/dev/null
  done
done
rm -f "$out/stub.port"
for f in "$out"/client-*.json; do
  python3 - "$f" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for r in d['runs'] + d['paced']:
    print(sys.argv[1].rsplit('/', 1)[-1], r['concurrency'], r['stub'][:24], 'tok/s', r.get('tokens_per_s'), 'tok/cpu-s', r.get('tokens_per_cpu_s'), 'itl err p50/p99', r.get('itl_error_ms_p50'), r.get('itl_error_ms_p99'))
PY
done
cat "$out/ref.txt"
