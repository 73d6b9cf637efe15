#!/usr/bin/env bash
# Issue 7.1, session 4: ITL fidelity and capacity of three clients on the same host, one after another:
# "threads" = this build's default (streams read on reader threads, src/workload/reader-threads.ts),
# "main" = this build with --reader-threads 0 (the lean HTTP/1.1 reader on the main thread),
# "before" = the previous build (node:http; a dist/ passed as BEFORE_DIST). Then c=256 paced at 50k
# with 1, 2 and 4 reader threads. bench/client.mjs's default pinning (stub on the last CPU).
# Writes <variant>.json / <variant>-5k.json and threads-256.txt to OUT_DIR; prints a summary.
#   bash bench/gpu/itl-threads.sh [SECONDS] [OUT_DIR] [BEFORE_DIST]
set -u
secs=${1:-5}
out=${2:-${OUT:-/tmp}}
before=${3:-.bench-dist-before}
for variant in threads main before; do
  extra=()
  [ "$variant" = main ] && extra=(--reader-threads 0)
  [ "$variant" = before ] && extra=(--dist "$before")
  node bench/client.mjs --json --window "$secs" "${extra[@]}" > "$out/$variant.json" 2>> "$out/progress.err"
  node bench/client.mjs --json --window "$secs" --rate 5000 --concurrency 1 --paced-concurrency 64 "${extra[@]}" > "$out/$variant-5k.json" 2>> "$out/progress.err"
done
for n in 1 2 4; do
  echo -n "reader threads $n: " >> "$out/threads-256.txt"
  node bench/client.mjs --json --window "$secs" --concurrency 1 --paced-concurrency 256 --reader-threads "$n" 2>> "$out/progress.err" \
    | python3 -c "import json,sys; r=json.load(sys.stdin)['paced'][0]; print(json.dumps({k: r.get(k) for k in ('reader_threads','tokens_per_s','cpu_core_fraction','itl_error_ms_p50','itl_error_ms_p99','itl_error_ms_max')}))" >> "$out/threads-256.txt"
done
for f in "$out"/threads.json "$out"/main.json "$out"/before.json "$out"/*-5k.json; do
  python3 - "$f" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for r in d['runs'] + d['paced']:
    print(sys.argv[1].rsplit('/', 1)[-1], 'c=%s' % r['concurrency'], 'thr=%s' % r.get('reader_threads'), r['stub'][:24], 'tok/s', r.get('tokens_per_s'), 'cores', r.get('cpu_core_fraction'), 'tok/cpu-s', r.get('tokens_per_cpu_s'), 'itl err p50/p99', r.get('itl_error_ms_p50'), r.get('itl_error_ms_p99'))
PY
done
cat "$out/threads-256.txt"
