#!/usr/bin/env python3
"""How long this machine takes a running thread off its CPU (issue 7.1: where the ITL tail comes from).

A thread pinned to one CPU reads the monotonic clock in a tight loop and records every gap between two
reads above 0.2 ms: time it did not run (the kernel ran something else, or the hypervisor descheduled
the vCPU). The loop allocates nothing the cyclic GC tracks, so a gap is never the interpreter's own
pause. Also reads the CPU's steal time from /proc/stat (time the hypervisor gave to others).
A timestamp taken on an event loop on that CPU (the load generator's, the stub's) cannot be more exact
than these gaps.

  python3 bench/gpu/hiccup.py SECONDS CPU   → one JSON line on stdout
"""
import json
import os
import sys
import time


def steal_jiffies(cpu):
    with open('/proc/stat') as f:
        for line in f:
            if line.startswith(f'cpu{cpu} '):
                return int(line.split()[8])
    return None


def main():
    seconds = float(sys.argv[1])
    cpu = int(sys.argv[2])
    os.sched_setaffinity(0, {cpu})
    hz = os.sysconf('SC_CLK_TCK')
    steal0 = steal_jiffies(cpu)
    clock = time.perf_counter_ns
    start = clock()
    end = start + int(seconds * 1e9)
    last = start
    gaps = []
    while True:
        now = clock()
        if now - last > 200_000:
            gaps.append(now - last)
        last = now
        if now > end:
            break
    steal1 = steal_jiffies(cpu)
    wall_s = (last - start) / 1e9
    over = lambda ms: sum(1 for g in gaps if g > ms * 1e6)
    print(json.dumps({
        'cpu': cpu,
        'wall_s': round(wall_s, 3),
        'gaps_over_0_2_ms': len(gaps),
        'gaps_over_0_5_ms': over(0.5),
        'gaps_over_1_ms': over(1),
        'gaps_over_2_ms': over(2),
        'gaps_over_5_ms': over(5),
        'gap_ms_max': round(max(gaps) / 1e6, 3) if gaps else 0,
        'gap_ms_total': round(sum(gaps) / 1e6, 2),
        'steal_ms': None if steal0 is None else (steal1 - steal0) * 1000 / hz,
    }))


if __name__ == '__main__':
    main()
