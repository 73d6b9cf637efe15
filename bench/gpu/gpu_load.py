"""GPU load for the energy check: bf16 matmuls in a given pattern until killed or for a duration.

usage: python3 gpu_load.py MODE SECONDS   (MODE: heavy | medium | bursty)
Prints "ready" once CUDA is initialised and the first kernel ran, so the caller can open its window.
"""
import sys
import time

import torch

mode, seconds = sys.argv[1], float(sys.argv[2])
size = {"heavy": 8192, "medium": 2048, "bursty": 8192}[mode]
a = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
b = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
(a @ b).sum().item()
print("ready", flush=True)
end = time.time() + seconds
while time.time() < end:
    if mode == "bursty" and int(time.time()) % 2 == 1:
        time.sleep(0.05)
        continue
    for _ in range(8):
        c = a @ b
    torch.cuda.synchronize()
    if mode == "medium":
        time.sleep(0.01)
