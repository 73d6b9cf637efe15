#!/usr/bin/env python3
"""Tests of scripts/transformers_runner.py, on the CPU with tiny random-weights models (no download, no GPU).

Run: `python scripts/test_transformers_runner.py` (or `python -m unittest scripts/test_transformers_runner.py`);
vitest runs it too (tests/engines/transformers-runner.test.ts). The protocol tests need only Python; the model
tests need torch + transformers and are skipped, loudly, without them — unless CARBONBENCH_REQUIRE_TORCH=1
(set by CI), which turns a missing torch into a failure so that a missing install step cannot hide.
"""
from __future__ import annotations

import importlib.util
import json
import queue
import threading
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "transformers_runner.py")
sys.path.insert(0, HERE)

import transformers_runner  # noqa: E402

HAVE_TORCH = importlib.util.find_spec("torch") is not None and importlib.util.find_spec("transformers") is not None
REQUIRE_TORCH = os.environ.get("CARBONBENCH_REQUIRE_TORCH") == "1" or os.environ.get("CI") == "true"
SKIP_REASON = (f"torch/transformers are not importable in {sys.executable}: the model tests of the transformers "
               "runner did NOT run (install scripts/requirements-test.txt into .venv; see scripts/setup.sh)")
if not HAVE_TORCH:
    sys.stderr.write(f"\n*** SKIPPING: {SKIP_REASON} ***\n\n")

TINY = {
    "model_type": "qwen2",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
    "max_position_embeddings": 4096,
}


def needs_torch(cls: Any) -> Any:
    if HAVE_TORCH or REQUIRE_TORCH:
        return cls  # with REQUIRE_TORCH and no torch, the tests run and fail on the import
    return unittest.skip(SKIP_REASON)(cls)


class RunnerProcess:
    """The runner as a real child process speaking JSON lines."""

    def __init__(self) -> None:
        self.stderr = tempfile.TemporaryFile(mode="w+")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, RUNNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True, env=env)
        # Lines arrive through a reader thread so that read() has a deadline: a test that waits for an
        # answer that never comes fails instead of hanging the suite.
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def send(self, obj: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((obj if isinstance(obj, str) else json.dumps(obj)) + "\n")
        self.proc.stdin.flush()

    def read(self, timeout_s: float = 120) -> Dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"no answer within {timeout_s} s; stderr:\n{self.log()}") from None
        if not line:
            raise AssertionError(f"runner closed its stdout; stderr:\n{self.log()}")
        return json.loads(line)

    def request(self, obj: Any, timeout_s: float = 120) -> Dict[str, Any]:
        self.send(obj)
        return self.read(timeout_s)

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()

    def close(self) -> int:
        if self.proc.poll() is None:
            try:
                self.request({"op": "shutdown"}, timeout_s=10)
            except (AssertionError, BrokenPipeError, ValueError):
                pass
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.pump.join(timeout=10)  # it ends at the closed pipe's end of file
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self.stderr.close()
        return code


class ProtocolTest(unittest.TestCase):
    """What needs no torch: framing, validation before import, the loop surviving bad requests."""

    def setUp(self) -> None:
        self.runner = RunnerProcess()

    def tearDown(self) -> None:
        self.runner.close()

    def test_bad_requests_are_answers_and_the_loop_survives(self) -> None:
        r = self.runner
        self.assertIn("not JSON", r.request("this is not json")["error"])
        self.assertIn("JSON object", r.request("[1, 2]")["error"])
        self.assertIn("unknown op 'fly'", r.request({"op": "fly"})["error"])
        self.assertIn("send a `load` request first", r.request({"op": "generate", "batch": 1, "input_len": 1,
                                                                "output_len": 1, "seed": 0})["error"])
        self.assertIn("send a `load` request first", r.request({"op": "bpb", "text": "x", "max_len": 8})["error"])
        self.assertEqual(r.request({"op": "ping"}), {"ok": True, "protocol": 1, "loaded": False})

    def test_load_validation_names_the_field_and_the_allowed_values(self) -> None:
        r = self.runner
        bad_dtype = r.request({"op": "load", "model": HERE, "dtype": "int3", "random_weights": None})
        self.assertFalse(bad_dtype["ok"])
        self.assertEqual(bad_dtype["error"], "`dtype` must be one of bf16, fp16, fp32, got 'int3'")
        bad_device = r.request({"op": "load", "model": HERE, "dtype": "fp32", "device": "tpu"})
        self.assertIn("`device` must be one of cuda, cpu, auto, got 'tpu'", bad_device["error"])
        missing = r.request({"op": "load", "model": "/nonexistent/model", "dtype": "fp32", "random_weights": None})
        self.assertFalse(missing["ok"])
        self.assertIn("'/nonexistent/model' does not exist", missing["error"])
        with tempfile.TemporaryDirectory() as empty:
            no_config = r.request({"op": "load", "model": empty, "dtype": "fp32"})
            self.assertIn("has no config.json", no_config["error"])

    def test_shutdown_answers_then_exits_zero(self) -> None:
        self.assertEqual(self.runner.request({"op": "shutdown"}), {"ok": True})
        self.assertEqual(self.runner.proc.wait(timeout=30), 0)

    def test_end_of_input_exits_zero(self) -> None:
        assert self.runner.proc.stdin is not None
        self.runner.proc.stdin.close()
        self.assertEqual(self.runner.proc.wait(timeout=30), 0)
        self.assertIn("stdin closed", self.runner.log())


class ChannelTest(unittest.TestCase):
    def test_stray_prints_go_to_stderr_not_the_channel(self) -> None:
        code = ("import sys; sys.path.insert(0, %r); import transformers_runner as t; ch = t.open_channel(); "
                "print('stray print'); import os; os.write(1, b'stray fd write\\n'); ch.write('{\"ok\": true}\\n'); "
                "ch.flush()") % HERE
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.stdout, '{"ok": true}\n')
        self.assertIn("stray print", done.stderr)
        self.assertIn("stray fd write", done.stderr)


@needs_torch
class ModelProcessTest(unittest.TestCase):
    """The real ops on a tiny random-weights Qwen2 on the CPU, through a real child process."""

    runner: RunnerProcess

    @classmethod
    def setUpClass(cls) -> None:
        cls.runner = RunnerProcess()
        cls.loaded = cls.runner.request({"op": "load", "model": None, "dtype": "fp32", "random_weights": TINY,
                                         "device": "cpu", "seed": 1})

    @classmethod
    def tearDownClass(cls) -> None:
        cls.runner.close()

    def test_load_answers_parameters_dtype_device(self) -> None:
        loaded = self.loaded
        self.assertTrue(loaded["ok"], loaded)
        self.assertEqual((loaded["dtype"], loaded["device"], loaded["model_type"]), ("fp32", "cpu", "qwen2"))
        # embeddings (tied) 1000*64 + 2 layers + final norm
        self.assertGreater(loaded["params"], 1000 * 64)
        self.assertLess(loaded["params"], 1_000_000)
        self.assertFalse(loaded["tokenizer"])
        self.assertGreaterEqual(loaded["load_s"], 0)

    def test_second_load_is_refused(self) -> None:
        again = self.runner.request({"op": "load", "dtype": "fp32", "random_weights": TINY, "device": "cpu"})
        self.assertFalse(again["ok"])
        self.assertIn("already loaded", again["error"])

    def test_generate_exact_lengths_batch_1_and_4(self) -> None:
        for batch in (1, 4):
            before = time.time()
            out = self.runner.request({"op": "generate", "batch": batch, "input_len": 12, "output_len": 9,
                                       "seed": 7})
            after = time.time()
            self.assertTrue(out["ok"], out)
            self.assertEqual(out["output_tokens"], batch * 9)
            self.assertEqual(out["prompt_tokens"], batch * 12)
            # Epoch seconds on this process's clock, ordered.
            self.assertLessEqual(before, out["t_start"])
            self.assertLess(out["t_start"], out["t_end"])
            self.assertLessEqual(out["t_end"], after)

    def test_progress_event_precedes_the_answer(self) -> None:
        self.runner.send({"op": "generate", "batch": 2, "input_len": 4, "output_len": 3, "seed": 1, "progress": True})
        started = self.runner.read()
        self.assertEqual(started.get("event"), "started", started)
        done = self.runner.read()
        self.assertTrue(done["ok"], done)
        self.assertEqual(done["t_start"], started["t_start"])

    def test_generate_validation(self) -> None:
        bad = self.runner.request({"op": "generate", "batch": 0, "input_len": 4, "output_len": 3, "seed": 1})
        self.assertEqual(bad["error"], "`batch` must be an integer >= 1, got 0")
        bad = self.runner.request({"op": "generate", "batch": 1, "input_len": True, "output_len": 3})
        self.assertIn("`input_len` must be an integer", bad["error"])

    def test_bpb_byte_fallback(self) -> None:
        text = "Grüße, world! " * 5  # 80 UTF-8 bytes (ü and ß are two bytes each)
        n_bytes = len(text.encode("utf-8"))
        self.assertEqual(n_bytes, 80)
        out = self.runner.request({"op": "bpb", "text": text, "max_len": 32})
        self.assertTrue(out["ok"], out)
        # chunks of 32, 32, 16 bytes; the first of each unscored
        self.assertEqual(out["tokens"], 80 - 3)
        self.assertEqual(out["bytes"], 80 - 3)
        self.assertEqual(out["chunks"], 3)
        self.assertIn("byte-level fallback", out["method"])
        self.assertTrue(math.isfinite(out["bits"]) and out["bits"] > 0)
        # A random model is close to uniform over 1000 ids: about log2(1000) ≈ 9.97 bits per token.
        self.assertAlmostEqual(out["bits"] / out["tokens"], math.log2(1000), delta=1.0)

    def test_bpb_nothing_to_score(self) -> None:
        out = self.runner.request({"op": "bpb", "text": "a", "max_len": 8})
        self.assertFalse(out["ok"])
        self.assertIn("nothing to score", out["error"])

    def test_cancel_signal_stops_a_running_generate(self) -> None:
        self.runner.send({"op": "generate", "batch": 1, "input_len": 4, "output_len": 4000, "seed": 2,
                          "progress": True})
        started = self.runner.read()
        self.assertEqual(started.get("event"), "started", started)
        self.runner.proc.send_signal(signal.SIGUSR1)
        out = self.runner.read()
        self.assertFalse(out["ok"])
        self.assertTrue(out["cancelled"], out)
        self.assertIn("of 4000 new tokens", out["error"])
        # The flag does not leak into the next call.
        after = self.runner.request({"op": "generate", "batch": 1, "input_len": 4, "output_len": 5, "seed": 3})
        self.assertTrue(after["ok"], after)


def _make_model_dir(path: str) -> str:
    """A tiny Qwen2 with a byte-level BPE tokenizer trained here, saved like a downloaded checkpoint."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

    corpus = ["The quick brown fox jumps over the lazy dog. Grüße aus Köln! " * 20, "energy per token " * 20]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>"])
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    fast.save_pretrained(path)
    torch.manual_seed(0)
    cfg = dict(TINY, vocab_size=512, eos_token_id=fast.eos_token_id)
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(cfg.pop("model_type"), **cfg))
    model.save_pretrained(path)
    return path


@needs_torch
class PretrainedDirTest(unittest.TestCase):
    """A local model directory with a tokenizer: from_pretrained(local_files_only) and BPB by tokenizer offsets."""

    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = _make_model_dir(self.tmp.name)
        self.runner = RunnerProcess()

    def tearDown(self) -> None:
        self.runner.close()
        self.tmp.cleanup()

    def test_load_generate_bpb(self) -> None:
        loaded = self.runner.request({"op": "load", "model": self.dir, "dtype": "bf16", "device": "cpu", "seed": 0})
        self.assertTrue(loaded["ok"], loaded)
        self.assertTrue(loaded["tokenizer"])
        self.assertEqual(loaded["dtype"], "bf16")
        out = self.runner.request({"op": "generate", "batch": 3, "input_len": 5, "output_len": 6, "seed": 1})
        self.assertTrue(out["ok"], out)
        self.assertEqual(out["output_tokens"], 18)

        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(self.dir, local_files_only=True)
        text = "Grüße aus Köln: the quick brown fox, energy per token. " * 3
        ids = tok(text, add_special_tokens=False, return_offsets_mapping=True)
        n = len(ids["input_ids"])
        first_end_char = ids["offset_mapping"][0][1]
        expected_bytes = len(text.encode("utf-8")) - len(text[:first_end_char].encode("utf-8"))
        whole = self.runner.request({"op": "bpb", "text": text, "max_len": n + 10})
        self.assertTrue(whole["ok"], whole)
        self.assertEqual(whole["tokens"], n - 1)
        self.assertEqual(whole["bytes"], expected_bytes)
        self.assertIn("tokenizer offsets", whole["method"])
        self.assertTrue(math.isfinite(whole["bits"]) and whole["bits"] > 0)
        # In chunks: each chunk's first token is unscored, and the chunks' bytes add up without overlap.
        chunked = self.runner.request({"op": "bpb", "text": text, "max_len": 8})
        self.assertTrue(chunked["ok"], chunked)
        chunks = math.ceil(n / 8)
        self.assertEqual(chunked["tokens"], n - chunks)
        self.assertLess(chunked["bytes"], whole["bytes"])


@needs_torch
class InProcessTest(unittest.TestCase):
    """Failure paths that need a hand on the model: an out-of-memory error is answered verbatim."""

    def setUp(self) -> None:
        self.events: List[Dict[str, Any]] = []
        self.runner = transformers_runner.Runner(self.events.append)
        loaded = self.runner.handle({"op": "load", "dtype": "fp32", "random_weights": TINY, "device": "cpu"})
        self.assertTrue(loaded["ok"], loaded)

    def test_cuda_oom_is_answered_verbatim_and_the_runner_goes_on(self) -> None:
        import torch
        message = "CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 79.19 GiB"
        real_generate = self.runner.model.generate

        def oom(*_args: Any, **_kwargs: Any) -> None:
            raise torch.cuda.OutOfMemoryError(message)

        self.runner.model.generate = oom
        out = self.runner.handle({"op": "generate", "batch": 512, "input_len": 4, "output_len": 2, "seed": 0})
        self.assertEqual(out, {"ok": False, "error": message, "oom": True})
        self.runner.model.generate = real_generate
        again = self.runner.handle({"op": "generate", "batch": 2, "input_len": 4, "output_len": 2, "seed": 0})
        self.assertTrue(again["ok"], again)

    def test_cpu_allocator_failure_counts_as_oom(self) -> None:
        def fail(*_args: Any, **_kwargs: Any) -> None:
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
                               "you tried to allocate 1099511627776 bytes. Error code 12 (Cannot allocate memory)")

        self.runner.model.generate = fail
        out = self.runner.handle({"op": "generate", "batch": 1, "input_len": 4, "output_len": 2, "seed": 0})
        self.assertFalse(out["ok"])
        self.assertIn("DefaultCPUAllocator: can't allocate memory", out["error"])

    def test_wrong_length_is_an_error(self) -> None:
        import torch

        def short(input_ids: Any, **_kwargs: Any) -> Any:
            return torch.cat([input_ids, input_ids[:, :1]], dim=1)  # one new token instead of the asked-for 5

        self.runner.model.generate = short
        out = self.runner.handle({"op": "generate", "batch": 2, "input_len": 4, "output_len": 5, "seed": 0})
        self.assertFalse(out["ok"])
        self.assertIn("2 sequences of 1 new tokens; expected 2 of 5", out["error"])

    def test_distinct_prompts_no_shared_prefix(self) -> None:
        import torch
        seen: List[Any] = []

        def capture(input_ids: Any, **kwargs: Any) -> Any:
            seen.append(input_ids.clone())
            new = torch.zeros((input_ids.shape[0], kwargs["max_new_tokens"]), dtype=input_ids.dtype)
            return torch.cat([input_ids, new], dim=1)

        self.runner.model.generate = capture
        self.runner.handle({"op": "generate", "batch": 64, "input_len": 8, "output_len": 1, "seed": 5})
        self.runner.handle({"op": "generate", "batch": 64, "input_len": 8, "output_len": 1, "seed": 5})
        self.runner.handle({"op": "generate", "batch": 64, "input_len": 8, "output_len": 1, "seed": 6})
        first = seen[0][:, 0].tolist()
        self.assertEqual(len(set(first)), 64)
        self.assertTrue(torch.equal(seen[0], seen[1]), "the same seed gives the same prompts")
        self.assertFalse(torch.equal(seen[0], seen[2]), "another seed gives other prompts")
        self.assertTrue(bool((seen[0] < 1000).all()))


if __name__ == "__main__":
    unittest.main(verbosity=2)
