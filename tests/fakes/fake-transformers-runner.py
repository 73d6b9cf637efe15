#!/usr/bin/env python3
"""A stand-in for scripts/transformers_runner.py that needs no torch: the same JSON-lines protocol, with
timings and failures chosen by the test. Directives ride in the load request's random_weights config,
under "fake" (so a test only writes a config.json):

  call_s        seconds one generate call takes (default 0.05); SIGUSR1 cancels it like the real runner
  oom_after     generate calls that succeed before every later one fails with a CUDA OOM message
  load_error    load answers {"ok": false, "error": load_error}
  die_on_load   write a few log lines to stderr and exit 3 instead of answering load
  hang_on_load  never answer load
  spawn_child   start a grandchild (sleep) in the runner's process group, for the stop() test
  stray_stdout  print a non-JSON line on the answer channel before each answer (must be tolerated)
"""
import json
import os
import signal
import subprocess
import sys
import time

cancel = False


def on_usr1(*_):
    global cancel
    cancel = True


signal.signal(signal.SIGUSR1, on_usr1)
fake = {}
loaded = False
calls = 0
child = None


def emit(obj):
    if fake.get("stray_stdout"):
        sys.stdout.write("this line is not JSON\n")
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


sys.stderr.write("[fake runner] ready, pid %d\n" % os.getpid())
sys.stderr.flush()
for line in sys.stdin:
    req = json.loads(line)
    op = req.get("op")
    if op == "shutdown":
        emit({"ok": True})
        break
    if op == "load":
        fake = (req.get("random_weights") or {}).get("fake", {})
        if fake.get("spawn_child"):
            child = subprocess.Popen(["sleep", "1000"])
        if fake.get("die_on_load"):
            sys.stderr.write("[fake runner] loading\nRuntimeError: simulated crash while loading\n")
            sys.stderr.flush()
            sys.exit(3)
        if fake.get("hang_on_load"):
            time.sleep(3600)
        if req.get("dtype") not in ("bf16", "fp16", "fp32"):
            emit({"ok": False, "error": "`dtype` must be one of bf16, fp16, fp32, got %r" % req.get("dtype")})
            continue
        if fake.get("load_error"):
            emit({"ok": False, "error": fake["load_error"]})
            continue
        loaded = True
        sys.stderr.write("[fake runner] loaded %s\n" % json.dumps(req))
        sys.stderr.flush()
        emit({"ok": True, "params": 12345, "dtype": req["dtype"], "device": "cpu", "load_s": 0.01,
              "model_type": "qwen2", "vocab_size": 1000, "tokenizer": False, "torch": "fake", "transformers": "fake"})
    elif op == "generate":
        calls += 1
        if fake.get("oom_after") is not None and calls > fake["oom_after"]:
            emit({"ok": False, "oom": True,
                  "error": "CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 79.19 GiB"})
            continue
        b, i, o = req["batch"], req["input_len"], req["output_len"]
        cancel = False
        t_start = time.time()
        if req.get("progress"):
            emit({"event": "started", "t_start": t_start})
        deadline = t_start + float(fake.get("call_s", 0.05))
        while time.time() < deadline and not cancel:
            time.sleep(0.005)
        t_end = time.time()
        if cancel:
            cancel = False
            emit({"ok": False, "cancelled": True, "error": "cancelled after 1 of %d new tokens" % o,
                  "t_start": t_start, "t_end": t_end})
            continue
        emit({"ok": True, "t_start": t_start, "t_end": t_end, "output_tokens": b * o, "prompt_tokens": b * i})
    elif op == "bpb":
        n = len(req["text"].encode("utf-8"))
        emit({"ok": True, "bits": 2.5 * (n - 1), "bytes": n - 1, "tokens": n - 1, "chunks": 1,
              "method": "fake forward pass"})
    else:
        emit({"ok": False, "error": "unknown op %r" % op})
