#!/usr/bin/env python3
"""A reference client for bench/lib/stream-stub.mjs, outside Node (issue 7.1: where the ITL tail comes from).

It keeps CONCURRENCY streams open against the stub (the same vLLM-dialect request as
src/workload/openai-load.ts: token-id prompts with a unique 8-token prefix, stream, max_tokens), reads
every socket with non-blocking recv() from one epoll loop, stamps each read with the clock right after
epoll returns it, and compares each stream's inter-token intervals with the stub's send intervals
(GET /sendlog) exactly as bench/client.mjs does: |client interval − stub interval|. It parses nothing
but the HTTP chunk framing and counts token events, so its per-chunk cost is a few microseconds of C.
If this client sees the same tail as carbonbench's load generator, the tail is the stub's or the
kernel's, not the load generator's.

  python3 bench/gpu/ref-client.py BASE_URL CONCURRENCY SECONDS [CPU]  → one JSON line
"""
import json
import os
import select
import socket
import sys
import time
import urllib.request

base, concurrency, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
if len(sys.argv) > 4:
    os.sched_setaffinity(0, {int(sys.argv[4])})
host, port = base.split('//')[1].split(':')
port = int(port)
OUTPUT = 128
clock = time.perf_counter

ep = select.epoll()
streams = {}
counter = [0]
finished = []


def start():
    counter[0] += 1
    n = counter[0]
    prompt = [900000 + n, 7, 7, 7, 7, 7, 7, 7] + [5] * 120
    body = json.dumps({'model': 'stub', 'prompt': prompt, 'max_tokens': OUTPUT, 'stream': True, 'ignore_eos': True,
                       'stream_options': {'include_usage': True, 'continuous_usage_stats': True}}).encode()
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(b'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' % len(body) + body)
    s.setblocking(False)
    streams[s.fileno()] = {'sock': s, 'key': '.'.join(str(x) for x in prompt[:8]), 'stamps': [], 'buf': b'', 'begun': clock()}
    ep.register(s.fileno(), select.EPOLLIN)


for _ in range(concurrency):
    start()
t_end = clock() + seconds
while streams:
    for fd, _ in ep.poll(1.0):
        now = clock()
        st = streams.get(fd)
        if st is None:
            continue
        data = st['sock'].recv(65536)
        if data:
            # One stamp per read; a read may hold several chunks (counted as coalesced by the caller).
            tokens = data.count(b'"text":')
            st['stamps'].extend([now] * tokens)
            continue
        ep.unregister(fd)
        st['sock'].close()
        del streams[fd]
        finished.append(st)
        if clock() < t_end:
            start()

sendlog = json.load(urllib.request.urlopen(base + '/sendlog'))
errors = []
coalesced = 0
for st in finished[concurrency:]:  # the first wave includes connection set-up; skip it
    sends = sendlog.get(st['key'])
    if sends is None or len(sends) != len(st['stamps']):
        continue
    for i in range(1, len(sends)):
        client_ms = (st['stamps'][i] - st['stamps'][i - 1]) * 1000
        stub_ms = (sends[i] - sends[i - 1]) * 1000
        if client_ms == 0:
            coalesced += 1
        errors.append(abs(client_ms - stub_ms))
errors.sort()
pct = lambda q: round(errors[min(len(errors) - 1, int(q * len(errors)))], 4) if errors else None
print(json.dumps({'client': 'python epoll', 'concurrency': concurrency, 'requests_compared': len(finished) - concurrency,
                  'itl_pairs': len(errors), 'itl_pairs_coalesced': coalesced, 'itl_error_ms_p50': pct(0.5), 'itl_error_ms_p99': pct(0.99),
                  'itl_error_ms_max': round(errors[-1], 3) if errors else None, 'itl_errors_over_1ms': sum(1 for e in errors if e > 1)}))
