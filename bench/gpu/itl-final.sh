#!/usr/bin/env bash
# Issue 7.1, session 4: the numbers in bench/RESULTS.md for the reader threads: the default benchmark
# (8 s windows), paced at 5,000 tokens/s, and 4 ms main-thread stalls at 10 Hz with and without reader
# threads. Writes client.json, client-5k.json, stall-{threads,main}.json to $OUT.
#   OUT=DIR bash bench/gpu/itl-final.sh
set -u
node bench/client.mjs --json --window 8 > $OUT/client.json 2>> $OUT/progress.err
node bench/client.mjs --json --window 10 --rate 5000 --concurrency 1 --paced-concurrency 64,256 > $OUT/client-5k.json 2>> $OUT/progress.err
for v in threads main; do
  extra=(); [ $v = main ] && extra=(--reader-threads 0)
  node bench/client.mjs --json --window 8 --concurrency 1 --paced-concurrency 64 --main-stall-ms 4 "${extra[@]}" > $OUT/stall-$v.json 2>> $OUT/progress.err
done
for f in $OUT/*.json; do python3 - "$f" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for r in d['runs'] + d['paced']:
    print(sys.argv[1].rsplit('/', 1)[-1], 'c=%s' % r['concurrency'], 'thr=%s' % r.get('reader_threads'), r['stub'][:24], 'tok/s', r.get('tokens_per_s'), 'cores', r.get('cpu_core_fraction'), 'main', r.get('main_thread_cpu_core_fraction'), 'tok/cpu-s', r.get('tokens_per_cpu_s'), 'tok/main-cpu-s', r.get('tokens_per_main_thread_cpu_s'), 'itl p50/p99/max', r.get('itl_error_ms_p50'), r.get('itl_error_ms_p99'), r.get('itl_error_ms_max'), 'pairs', r.get('itl_pairs'))
PY
done
