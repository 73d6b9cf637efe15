#!/usr/bin/env python3
"""carbonbench's transformers runner: HF transformers `generate` and a BPB forward pass behind JSON lines.

Protocol (one JSON object per line; requests on stdin, one answer per request on stdout, logs on stderr):

  {"op":"load","model":PATH|null,"dtype":"bf16|fp16|fp32","random_weights":{config}|null,
   "device":"cuda|cpu|auto","seed":S}
      -> {"ok":true,"params":N,"dtype":..,"device":..,"load_s":..,"model_type":..,"vocab_size":..,
          "tokenizer":bool,"torch":..,"transformers":..}
  {"op":"generate","batch":B,"input_len":I,"output_len":O,"seed":S,"progress":bool}
      -> (with progress) {"event":"started","t_start":epoch_s} first, then
         {"ok":true,"t_start":epoch_s,"t_end":epoch_s,"output_tokens":B*O,"prompt_tokens":B*I}
  {"op":"bpb","text":"...","max_len":N}
      -> {"ok":true,"bits":..,"bytes":..,"tokens":..,"chunks":..,"method":".."}
  {"op":"shutdown"} -> {"ok":true} and exit 0 (end of stdin exits too)

Every failure is an answer, never a crash: {"ok":false,"error":"..."} (a CUDA out-of-memory message is passed
on verbatim, with "oom":true). SIGUSR1 cancels the running `generate` at its next token step (the answer is
then {"ok":false,"cancelled":true,...}); it is how carbonbench's thermal watchdog stops the load at once.

Timestamps are time.time() (epoch seconds) taken after torch.cuda.synchronize(), so they lie on the same
clock as the Node process and bracket the GPU work, not just its launch. Compatible with transformers
4.4x-5.x and torch 2.x; torch and transformers are imported on the first `load`, so a missing install is
an answer too. Run its tests with `python -m unittest scripts/test_transformers_runner.py`.
"""
from __future__ import annotations

import gc
import json
import math
import os
import signal
import sys
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, TextIO

PROTOCOL_VERSION = 1
DTYPES = ("bf16", "fp16", "fp32")
DEVICES = ("cuda", "cpu", "auto")


class RequestError(Exception):
    """A request that cannot be served; its message is the answer's `error`."""


def log(message: str) -> None:
    sys.stderr.write(f"[transformers_runner] {message}\n")
    sys.stderr.flush()


def _int_field(req: Dict[str, Any], key: str, minimum: int) -> int:
    value = req.get(key)
    # bool is an int subclass in Python: reject it explicitly.
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise RequestError(f"`{key}` must be an integer >= {minimum}, got {value!r}")
    return value


def _version_tuple(version: str) -> tuple:
    parts: List[int] = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


class Runner:
    def __init__(self, emit: Callable[[Dict[str, Any]], None]):
        self.emit = emit
        self.torch: Any = None
        self.transformers: Any = None
        self.model: Any = None
        self.tokenizer: Any = None
        self.device: Optional[str] = None
        self.dtype_name: Optional[str] = None
        self.vocab_size = 0
        # Token ids drawn for prompts: [0, sample_vocab) — the tokenizer's base vocabulary when there is one,
        # so that random prompts contain no special/added tokens.
        self.sample_vocab = 0
        self.pad_token_id = 0
        self.cancel_requested = False

    # ---- plumbing -------------------------------------------------------------------------------------

    def handle_line(self, line: str) -> Dict[str, Any]:
        try:
            req = json.loads(line)
        except json.JSONDecodeError as err:
            return {"ok": False, "error": f"request is not JSON: {err}"}
        if not isinstance(req, dict):
            return {"ok": False, "error": f"request must be a JSON object, got {type(req).__name__}"}
        return self.handle(req)

    def handle(self, req: Dict[str, Any]) -> Dict[str, Any]:
        op = req.get("op")
        handlers = {"load": self.op_load, "generate": self.op_generate, "bpb": self.op_bpb, "ping": self.op_ping}
        handler = handlers.get(op) if isinstance(op, str) else None
        if handler is None:
            return {"ok": False, "error": f"unknown op {op!r}; expected one of load, generate, bpb, ping, shutdown"}
        try:
            return handler(req)
        except RequestError as err:
            return {"ok": False, "error": str(err)}
        except Exception as err:  # noqa: BLE001 - the loop must survive anything a request does
            answer: Dict[str, Any] = {"ok": False, "error": f"{type(err).__name__}: {err}"}
            if self._is_oom(err):
                # The message verbatim: it says how much was asked for and how much is free.
                answer = {"ok": False, "error": str(err), "oom": True}
            log(f"{op} failed:\n{traceback.format_exc()}")
            self._free_memory()
            return answer

    def _is_oom(self, err: BaseException) -> bool:
        if self.torch is None:
            return False
        oom_type = getattr(self.torch.cuda, "OutOfMemoryError", None)
        if oom_type is not None and isinstance(err, oom_type):
            return True
        return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()

    def _free_memory(self) -> None:
        gc.collect()
        if self.torch is not None and self.torch.cuda.is_available():
            self.torch.cuda.empty_cache()

    def _sync(self) -> None:
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def request_cancel(self, *_: Any) -> None:
        # Signal handler: only sets a flag, read by the stopping criterion between token steps.
        self.cancel_requested = True

    def _import(self) -> None:
        if self.torch is not None:
            return
        try:
            import torch  # noqa: PLC0415 - imported lazily so that a missing torch is an answer, not a crash
            import transformers  # noqa: PLC0415
        except ImportError as err:
            raise RequestError(f"cannot import torch/transformers in {sys.executable}: {err}") from err
        self.torch = torch
        self.transformers = transformers
        transformers.logging.set_verbosity_error()

    def _dtype_kwarg(self) -> str:
        # transformers renamed `torch_dtype` to `dtype` in 4.56; 5.x warns on the old name.
        return "dtype" if _version_tuple(self.transformers.__version__) >= (4, 56) else "torch_dtype"

    # ---- ops --------------------------------------------------------------------------------------------

    def op_ping(self, _req: Dict[str, Any]) -> Dict[str, Any]:
        return {"ok": True, "protocol": PROTOCOL_VERSION, "loaded": self.model is not None}

    def op_load(self, req: Dict[str, Any]) -> Dict[str, Any]:
        if self.model is not None:
            raise RequestError("a model is already loaded: one runner serves one model (start another runner)")
        dtype_name = req.get("dtype")
        if dtype_name not in DTYPES:
            raise RequestError(f"`dtype` must be one of {', '.join(DTYPES)}, got {dtype_name!r}")
        device = req.get("device") or "auto"
        if device not in DEVICES:
            raise RequestError(f"`device` must be one of {', '.join(DEVICES)}, got {device!r}")
        random_weights = req.get("random_weights")
        model_path = req.get("model")
        if random_weights is not None and not isinstance(random_weights, dict):
            raise RequestError(f"`random_weights` must be a config object or null, got {type(random_weights).__name__}")
        if random_weights is None:
            if not isinstance(model_path, str) or not model_path:
                raise RequestError("`model` must be a local model directory when `random_weights` is null")
            if not os.path.isdir(model_path):
                raise RequestError(f"model directory {model_path!r} does not exist (the runner never downloads)")
            if not os.path.isfile(os.path.join(model_path, "config.json")):
                raise RequestError(f"{model_path!r} has no config.json: not a transformers model directory")
        seed = req.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise RequestError(f"`seed` must be an integer, got {seed!r}")

        self._import()
        torch = self.torch
        from transformers import AutoConfig, AutoModelForCausalLM  # noqa: PLC0415

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise RequestError(f"device cuda requested but torch {torch.__version__} sees no CUDA device")
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype_name]
        torch.manual_seed(seed)
        t0 = time.time()
        kwargs = {self._dtype_kwarg(): dtype}
        if random_weights is not None:
            cfg = dict(random_weights)
            model_type = cfg.pop("model_type", "qwen2")
            config = AutoConfig.for_model(model_type, **cfg)
            # Built directly on the target device: initialising 1.5B parameters on the CPU takes far longer.
            with torch.device(device):
                model = AutoModelForCausalLM.from_config(config, **kwargs)
            tokenizer = None
        else:
            model = AutoModelForCausalLM.from_pretrained(model_path, local_files_only=True, **kwargs)
            tokenizer = self._load_tokenizer(model_path)
        model = model.to(device=device, dtype=dtype)
        model.eval()
        self._sync()
        load_s = time.time() - t0

        self.model, self.tokenizer, self.device, self.dtype_name = model, tokenizer, device, dtype_name
        config = model.config
        self.vocab_size = int(getattr(config, "vocab_size", 0) or model.get_input_embeddings().num_embeddings)
        self.sample_vocab = self.vocab_size
        if tokenizer is not None and getattr(tokenizer, "vocab_size", None):
            self.sample_vocab = max(2, min(self.vocab_size, int(tokenizer.vocab_size)))
        pad = getattr(config, "pad_token_id", None)
        eos = getattr(config, "eos_token_id", None)
        if pad is None:
            pad = eos[0] if isinstance(eos, list) and eos else eos
        self.pad_token_id = int(pad) if isinstance(pad, int) else 0
        params = sum(p.numel() for p in model.parameters())
        log(f"loaded {model_path if random_weights is None else 'random weights'} ({params} parameters) "
            f"as {dtype_name} on {device} in {load_s:.2f} s")
        return {
            "ok": True,
            "params": params,
            "dtype": dtype_name,
            "device": device,
            "load_s": load_s,
            "model_type": getattr(config, "model_type", None),
            "vocab_size": self.vocab_size,
            "tokenizer": tokenizer is not None,
            "torch": torch.__version__,
            "transformers": self.transformers.__version__,
            "protocol": PROTOCOL_VERSION,
        }

    def _load_tokenizer(self, model_path: str) -> Any:
        from transformers import AutoTokenizer  # noqa: PLC0415
        try:
            return AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        except Exception as err:  # noqa: BLE001 - a model without tokenizer files still generates
            log(f"no tokenizer in {model_path} ({type(err).__name__}: {err}); BPB falls back to bytes as tokens")
            return None

    def _require_model(self) -> None:
        if self.model is None:
            raise RequestError("no model loaded: send a `load` request first")

    def op_generate(self, req: Dict[str, Any]) -> Dict[str, Any]:
        self._require_model()
        batch = _int_field(req, "batch", 1)
        input_len = _int_field(req, "input_len", 1)
        output_len = _int_field(req, "output_len", 1)
        seed = req.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise RequestError(f"`seed` must be a non-negative integer, got {seed!r}")
        torch = self.torch
        gen = torch.Generator().manual_seed(seed)
        input_ids = torch.randint(0, self.sample_vocab, (batch, input_len), generator=gen)
        # Distinct first tokens: no two sequences share a prefix (no cache of any kind could help).
        if batch <= self.sample_vocab:
            input_ids[:, 0] = torch.randperm(self.sample_vocab, generator=gen)[:batch]
        input_ids = input_ids.to(self.device)
        attention_mask = torch.ones_like(input_ids)
        stopping = self._cancel_criteria()

        # Cleared before `started` is sent: a cancel signal sent after `started` arrived always reaches this
        # call, and one that arrives after the call ended is cleared by the next call, never misapplied.
        self.cancel_requested = False
        self._sync()
        t_start = time.time()
        if req.get("progress"):
            self.emit({"event": "started", "t_start": t_start})
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                # Exactly output_len new tokens: EOS is suppressed until min_new_tokens, and generation stops
                # at max_new_tokens.
                min_new_tokens=output_len,
                max_new_tokens=output_len,
                do_sample=False,
                num_beams=1,
                pad_token_id=self.pad_token_id,
                stopping_criteria=stopping,
                use_cache=True,
            )
        self._sync()
        t_end = time.time()
        new_tokens = int(out.shape[1]) - input_len
        rows = int(out.shape[0])
        del out, input_ids, attention_mask
        if self.cancel_requested and new_tokens < output_len:
            self.cancel_requested = False
            return {"ok": False, "cancelled": True, "error": f"cancelled after {new_tokens} of {output_len} new tokens",
                    "t_start": t_start, "t_end": t_end}
        if rows != batch or new_tokens != output_len:
            return {"ok": False, "error": f"generate produced {rows} sequences of {new_tokens} new tokens; "
                                          f"expected {batch} of {output_len}", "t_start": t_start, "t_end": t_end}
        return {
            "ok": True,
            "t_start": t_start,
            "t_end": t_end,
            "output_tokens": batch * output_len,
            "prompt_tokens": batch * input_len,
        }

    def _cancel_criteria(self) -> Any:
        from transformers import StoppingCriteria, StoppingCriteriaList  # noqa: PLC0415
        runner = self
        torch = self.torch

        class CancelRequested(StoppingCriteria):
            # A bool tensor per sequence: the return type transformers has expected since 4.39.
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), runner.cancel_requested, dtype=torch.bool,
                                  device=input_ids.device)

        return StoppingCriteriaList([CancelRequested()])

    def op_bpb(self, req: Dict[str, Any]) -> Dict[str, Any]:
        self._require_model()
        text = req.get("text")
        if not isinstance(text, str) or not text:
            raise RequestError("`text` must be a non-empty string")
        max_len = _int_field(req, "max_len", 2)
        # A model cannot score past its context: clip to its positions (GPT-2 has 1024, Qwen2.5 32768+).
        positions = getattr(self.model.config, "max_position_embeddings", None)
        if isinstance(positions, int) and 2 <= positions < max_len:
            max_len = positions
        torch = self.torch

        # Token ids and, per token, the UTF-8 byte offset where its text ends (None without offsets).
        ends: Optional[List[int]] = None
        if self.tokenizer is not None:
            fast = bool(getattr(self.tokenizer, "is_fast", False))
            enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=fast)
            ids = list(enc["input_ids"])
            if fast:
                # Byte offset at each token's end: the bytes a chunk scores are those after its first token's
                # end up to its last token's end, so the chunks' scored bytes add up without overlap.
                char_to_byte = [0]
                for ch in text:
                    char_to_byte.append(char_to_byte[-1] + len(ch.encode("utf-8")))
                ends = [char_to_byte[end] for (_start, end) in enc["offset_mapping"]]
                how = "tokenizer offsets"
            else:
                how = "decoded text of the scored tokens"
            method_head = f"transformers forward pass ({type(self.tokenizer).__name__}, bytes from {how})"
        else:
            ids = [b % self.vocab_size for b in text.encode("utf-8")]
            method_head = ("transformers forward pass, byte-level fallback (no tokenizer: each UTF-8 byte is a "
                           f"token, id = byte mod {self.vocab_size}; one byte per scored token)")

        nats = 0.0
        scored_bytes = 0
        scored_tokens = 0
        chunks = 0
        for start in range(0, len(ids), max_len):
            chunk = ids[start:start + max_len]
            if len(chunk) < 2:
                continue  # a lone token has nothing before it to predict it from
            x = torch.tensor([chunk], dtype=torch.long, device=self.device)
            with torch.inference_mode():
                logits = self.model(input_ids=x).logits[0, :-1].float()
                logp = torch.log_softmax(logits, dim=-1)
                target = x[0, 1:].unsqueeze(-1)
                nats -= float(logp.gather(-1, target).sum().item())
            del logits, logp, x
            chunks += 1
            scored_tokens += len(chunk) - 1
            if self.tokenizer is None:
                scored_bytes += len(chunk) - 1
            elif ends is not None:
                scored_bytes += ends[start + len(chunk) - 1] - ends[start]
            else:
                scored_bytes += len(self.tokenizer.decode(chunk[1:]).encode("utf-8"))
        if scored_tokens == 0 or scored_bytes <= 0:
            raise RequestError(f"nothing to score: the text has {len(ids)} token(s), max_len {max_len}")
        bits = nats / math.log(2)
        if not math.isfinite(bits):
            raise RequestError(f"the model gave non-finite log-probabilities ({bits}) in {self.dtype_name}")
        return {
            "ok": True,
            "bits": bits,
            "bytes": scored_bytes,
            "tokens": scored_tokens,
            "chunks": chunks,
            "method": f"{method_head}; {chunks} chunk(s) of <= {max_len} tokens, first token of each unscored; "
                      f"{self.dtype_name} on {self.device}",
        }


def open_channel() -> TextIO:
    """The answer channel: a private copy of the original stdout. fd 1 is then pointed at stderr, so a stray
    print() from a library (or C code writing to fd 1) lands in the log instead of corrupting the JSON lines."""
    channel_fd = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(channel_fd, "w", buffering=1, encoding="utf-8")


def main() -> int:
    channel = open_channel()

    def emit(obj: Dict[str, Any]) -> None:
        try:
            line = json.dumps(obj, allow_nan=False)
        except ValueError as err:
            line = json.dumps({"ok": False, "error": f"answer not representable as JSON: {err}"})
        channel.write(line + "\n")
        channel.flush()

    runner = Runner(emit)
    signal.signal(signal.SIGUSR1, runner.request_cancel)
    log(f"ready (protocol {PROTOCOL_VERSION}, python {sys.version.split()[0]}, pid {os.getpid()})")
    while True:
        line = sys.stdin.readline()
        if not line:
            log("stdin closed: exiting")
            return 0
        line = line.strip()
        if not line:
            continue
        try:
            if json.loads(line).get("op") == "shutdown":
                emit({"ok": True})
                log("shutdown requested: exiting")
                return 0
        except (json.JSONDecodeError, AttributeError):
            pass  # handle_line answers with the precise error
        emit(runner.handle_line(line))


if __name__ == "__main__":
    sys.exit(main())
