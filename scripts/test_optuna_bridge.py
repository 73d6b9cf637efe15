#!/usr/bin/env python3
"""Unit tests of scripts/optuna_bridge.py (stdlib unittest; run by tests/search/bayesian.test.ts with the
project's interpreter). They pass on Optuna 5.0 (.venv) and on Debian's python3-optuna 3.1.

    .venv/bin/python scripts/test_optuna_bridge.py
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
BRIDGE_PATH = os.path.join(HERE, "optuna_bridge.py")

spec = importlib.util.spec_from_file_location("optuna_bridge", BRIDGE_PATH)
assert spec is not None and spec.loader is not None
bridge_mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bridge_mod)

import optuna  # noqa: E402  (after the bridge module, like the bridge itself)
from optuna.trial import TrialState  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = {
    "models": ["m-small", "m-large"],
    "quant": ["fp16", "int4"],
    # Deliberately unsorted: the bridge sorts ordinal lists so the index is ordinal.
    "batch": [16, 1, 4],
    "input_len": [512, 128],
    "output_len": [64],
}


def point(model: str = "m-small", quant: str = "fp16", batch: int = 1, input_len: int = 128, output_len: int = 64) -> Dict[str, Any]:
    return {"model": model, "quant": quant, "batch": batch, "input_len": input_len, "output_len": output_len}


def in_space(p: Dict[str, Any]) -> bool:
    return (
        p["model"] in SPACE["models"]
        and p["quant"] in SPACE["quant"]
        and p["batch"] in SPACE["batch"]
        and p["input_len"] in SPACE["input_len"]
        and p["output_len"] in SPACE["output_len"]
    )


def stored_constraints(trial: Any) -> List[float]:
    """The constraint values TPE reads, on every Optuna version."""
    if hasattr(trial, "constraints"):  # 5.0+
        return list(trial.constraints.values())
    return list(trial.system_attrs.get("constraints") or [])


class BridgeTest(unittest.TestCase):
    def make(self, **init: Any) -> Any:
        b = bridge_mod.Bridge(optuna)
        req = {"space": SPACE, "seed": 7, "multi_objective": False, "constraint": False, "storage": None}
        req.update(init)
        b.cmd_init(req)
        return b

    def test_space_is_categorical_and_ordinal_index(self) -> None:
        b = self.make()
        self.assertEqual(b.values["batch"], [1, 4, 16])
        d = b.distributions
        self.assertIsInstance(d["model"], optuna.distributions.CategoricalDistribution)
        self.assertIsInstance(d["batch_idx"], optuna.distributions.IntDistribution)
        self.assertEqual((d["batch_idx"].low, d["batch_idx"].high), (0, 2))
        self.assertEqual(b._to_params(point(batch=16)), {"model": "m-small", "quant": "fp16", "batch_idx": 2, "input_len_idx": 0, "output_len_idx": 0})
        with self.assertRaisesRegex(bridge_mod.RequestError, r"point\.batch"):
            b._to_params(point(batch=2))

    def test_bad_space_is_refused_and_changes_nothing(self) -> None:
        b = self.make()
        study = b.study
        with self.assertRaisesRegex(bridge_mod.RequestError, r"space\.quant"):
            b.cmd_init({"space": dict(SPACE, quant=[]), "seed": 1})
        self.assertIs(b.study, study)

    def test_ask_tell_in_space(self) -> None:
        b = self.make()
        for i in range(6):
            a = b.cmd_ask({})
            self.assertTrue(in_space(a["point"]), a)
            b.cmd_tell({"trial_number": a["trial_number"], "values": [float(i)], "state": "complete"})
        states = [t.state for t in b.study.trials]
        self.assertEqual(states, [TrialState.COMPLETE] * 6)
        with self.assertRaisesRegex(bridge_mod.RequestError, "not pending"):
            b.cmd_tell({"trial_number": 0, "values": [1.0], "state": "complete"})

    def test_tell_validates_values(self) -> None:
        b = self.make()
        a = b.cmd_ask({})
        with self.assertRaisesRegex(bridge_mod.RequestError, "list of 1 finite numbers"):
            b.cmd_tell({"trial_number": a["trial_number"], "values": [1.0, 2.0], "state": "complete"})
        with self.assertRaisesRegex(bridge_mod.RequestError, "state"):
            b.cmd_tell({"trial_number": a["trial_number"], "values": None, "state": "exploded"})
        # still pending: a refused tell changes nothing
        b.cmd_tell({"trial_number": a["trial_number"], "values": None, "state": "fail"})
        self.assertEqual(b.study.trials[0].state, TrialState.FAIL)

    def test_enqueue_is_asked_next(self) -> None:
        b = self.make()
        b.cmd_enqueue({"point": point("m-large", "int4", 16, 512)})
        a = b.cmd_ask({})
        self.assertEqual(a["point"], point("m-large", "int4", 16, 512))

    def test_add_trial_rebuilds_an_equivalent_study(self) -> None:
        a = self.make()
        history = []
        for i in range(12):
            t = a.cmd_ask({})
            if i % 5 == 4:
                a.cmd_tell({"trial_number": t["trial_number"], "values": None, "state": "fail"})
                history.append((t["point"], None, "fail"))
            else:
                a.cmd_tell({"trial_number": t["trial_number"], "values": [10.0 + i], "state": "complete"})
                history.append((t["point"], [10.0 + i], "complete"))
        b = self.make()
        for p, values, state in history:
            b.cmd_add_trial({"point": p, "values": values, "state": state})
        ta, tb = a.study.trials, b.study.trials
        self.assertEqual(len(ta), len(tb))
        self.assertEqual([t.state for t in ta], [t.state for t in tb])
        self.assertEqual([t.params for t in ta], [t.params for t in tb])
        self.assertEqual([t.values for t in ta], [t.values for t in tb])
        self.assertEqual(tb[0].distributions, b.distributions)
        # ask continues from the rebuilt study: numbering goes on, the point is in the space
        nxt = b.cmd_ask({})
        self.assertEqual(nxt["trial_number"], 12)
        self.assertTrue(in_space(nxt["point"]))
        self.assertEqual(a.cmd_best({})["trials"], b.cmd_best({})["trials"])

    def test_add_trial_refuses_pruned(self) -> None:
        b = self.make()
        with self.assertRaisesRegex(bridge_mod.RequestError, "complete or fail"):
            b.cmd_add_trial({"point": point(), "values": None, "state": "pruned"})

    def test_constraint_is_stored_where_tpe_reads_it_and_best_is_feasible(self) -> None:
        b = self.make(constraint=True)
        # told (through ask/tell) and added (resume) trials, feasible and not
        t0 = b.cmd_ask({})
        b.cmd_tell({"trial_number": t0["trial_number"], "values": [1.0], "state": "complete", "constraint": 0.25})
        b.cmd_add_trial({"point": point("m-large"), "values": [2.0], "state": "complete", "constraint": -0.1})
        b.cmd_add_trial({"point": point("m-large", batch=4), "values": [0.5], "state": "complete", "constraint": 0.5})
        t3 = b.cmd_ask({})
        b.cmd_tell({"trial_number": t3["trial_number"], "values": [3.0], "state": "complete", "constraint": -0.3})
        trials = b.study.trials
        self.assertEqual([stored_constraints(t) for t in trials], [[0.25], [-0.1], [0.5], [-0.3]])
        # The objective is untouched: the constraint is not a penalty.
        self.assertEqual([t.values for t in trials], [[1.0], [2.0], [0.5], [3.0]])
        best = b.cmd_best({})["trials"]
        self.assertEqual([(t["trial_number"], t["values"], t["constraint"]) for t in best], [(1, [2.0], -0.1)])

    def test_unknown_constraint_counts_as_infeasible(self) -> None:
        b = self.make(constraint=True)
        b.cmd_add_trial({"point": point(), "values": [1.0], "state": "complete", "constraint": None})
        self.assertEqual(stored_constraints(b.study.trials[0]), [float("inf")])
        self.assertEqual(b.cmd_best({})["trials"], [])

    def test_tpe_keeps_sampling_with_infeasible_trials(self) -> None:
        b = self.make(constraint=True, n_startup_trials=3)
        for i in range(12):
            t = b.cmd_ask({})
            feasible = t["point"]["quant"] == "fp16"
            b.cmd_tell({"trial_number": t["trial_number"], "values": [float(i)], "state": "complete", "constraint": -1.0 if feasible else 1.0})
        self.assertTrue(all(t["constraint"] <= 0 for t in b.cmd_best({})["trials"]))

    def test_multi_objective_best_is_the_feasible_pareto_front(self) -> None:
        b = self.make(multi_objective=True, constraint=True)
        rows = [
            (point(batch=1), [1.0, 5.0], -1.0),  # front
            (point(batch=4), [2.0, 2.0], -1.0),  # front
            (point(batch=16), [3.0, 3.0], -1.0),  # dominated by [2, 2]
            (point("m-large"), [0.5, 0.5], 1.0),  # would dominate all, but infeasible
            (point("m-large", batch=4), [4.0, 1.0], -1.0),  # front
        ]
        for p, values, c in rows:
            b.cmd_add_trial({"point": p, "values": values, "state": "complete", "constraint": c})
        t = b.cmd_ask({})
        b.cmd_tell({"trial_number": t["trial_number"], "values": [9.0, 9.0], "state": "complete", "constraint": -1.0})
        best = b.cmd_best({})["trials"]
        self.assertEqual([x["trial_number"] for x in best], [0, 1, 4])
        with self.assertRaisesRegex(bridge_mod.RequestError, "list of 2 finite numbers"):
            b.cmd_add_trial({"point": point(), "values": [1.0], "state": "complete", "constraint": -1.0})

    def test_failed_pruned_and_abandoned_trials_are_never_best(self) -> None:
        b = self.make()
        b.cmd_add_trial({"point": point(), "values": None, "state": "fail"})
        t = b.cmd_ask({})
        b.cmd_tell({"trial_number": t["trial_number"], "values": None, "state": "pruned", "kind": "duplicate"})
        t = b.cmd_ask({})
        b.cmd_tell({"trial_number": t["trial_number"], "values": None, "state": "fail", "kind": "abandoned"})
        b.cmd_add_trial({"point": point(batch=4), "values": [7.0], "state": "complete"})
        best = b.cmd_best({})["trials"]
        self.assertEqual([x["values"] for x in best], [[7.0]])
        s = b.cmd_summary({})
        self.assertEqual(s["states"], {"fail": 2, "pruned": 1, "complete": 1})
        self.assertEqual(s["kinds"], {"experiment": 2, "duplicate": 1, "abandoned": 1})
        self.assertEqual(s["experiments"], {"fail": 1, "complete": 1})

    def test_rdb_storage_reloads_the_study(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{os.path.join(tmp, 'study.db')}"
            a = self.make(storage=url, study_name="s1")
            a.cmd_add_trial({"point": point(), "values": [1.0], "state": "complete"})
            t = a.cmd_ask({})  # left pending (RUNNING) in the storage
            b = self.make(storage=url, study_name="s1")
            init = b.cmd_init({"space": SPACE, "seed": 1, "storage": url, "study_name": "s1"})
            self.assertEqual(init["n_trials"], 2)
            self.assertEqual(init["trials"][0], {"trial_number": 0, "state": "complete", "kind": "experiment", "point": point()})
            self.assertEqual(init["trials"][1]["state"], "running")
            with self.assertRaisesRegex(bridge_mod.RequestError, "directions"):
                b.cmd_init({"space": SPACE, "seed": 1, "storage": url, "study_name": "s1", "multi_objective": True})
            a.cmd_tell({"trial_number": t["trial_number"], "values": None, "state": "fail", "kind": "abandoned"})
            del a, b

    def test_storage_errors_do_not_leak_the_password(self) -> None:
        b = bridge_mod.Bridge(optuna)
        url = "postgresql://carbon:s3cr3t-pw@127.0.0.1:1/nowhere"
        with self.assertRaises(bridge_mod.RequestError) as ctx:
            b.cmd_init({"space": SPACE, "seed": 1, "storage": url})
        self.assertNotIn("s3cr3t-pw", str(ctx.exception))
        # The whole URL, and the password wherever else it appears (a driver may quote it).
        self.assertEqual(bridge_mod._redact(f"x {url} y s3cr3t-pw", url), "x <storage> y ***")

    def test_commands_before_init_are_refused(self) -> None:
        b = bridge_mod.Bridge(optuna)
        for cmd in ("ask", "best", "summary"):
            with self.assertRaisesRegex(bridge_mod.RequestError, "send `init` first"):
                b.handle({"cmd": cmd})


class SharedStudyTest(unittest.TestCase):
    """Issue 10: several workers' bridges on one RDB storage (an SQLite file here; PostgreSQL in
    tests/e2e/distributed.test.ts). Each bridge has its own RDBStorage (its own connections)."""

    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.url = f"sqlite:///{os.path.join(self.tmp.name, 'study.sqlite')}"
        self.bridges: List[Any] = []

    def tearDown(self) -> None:
        for b in self.bridges:
            if b.storage_obj is not None:
                b.storage_obj.engine.dispose()
        self.tmp.cleanup()

    def worker(self) -> Any:
        b = bridge_mod.Bridge(optuna)
        b.cmd_init({"space": SPACE, "seed": 7, "storage": self.url, "study_name": "shared"})
        self.bridges.append(b)
        return b

    def concurrently(self, fns: List[Any]) -> List[Any]:
        import threading

        results: List[Any] = [None] * len(fns)
        errors: List[BaseException] = []

        def run(i: int) -> None:
            try:
                results[i] = fns[i]()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return results

    def test_each_enqueued_trial_goes_to_exactly_one_worker(self) -> None:
        workers = [self.worker() for _ in range(4)]
        points = [point(m, q, b_) for m in SPACE["models"] for q in SPACE["quant"] for b_ in (1, 4, 16)]
        for p in points:
            workers[0].cmd_enqueue({"point": p, "phase": "grid"})

        def drain(b: Any, host: str) -> List[int]:
            got = []
            while True:
                c = b.cmd_claim({"host": host})
                if c["trial_number"] is None:
                    return got
                self.assertEqual(c["phase"], "grid")
                got.append(c["trial_number"])

        claimed = self.concurrently([lambda b=b, i=i: drain(b, f"h{i}") for i, b in enumerate(workers)])
        flat = [n for got in claimed for n in got]
        self.assertEqual(len(flat), len(points))
        self.assertEqual(len(set(flat)), len(points))
        state = workers[1].cmd_state({})
        self.assertEqual(len(state["running"]), len(points))
        self.assertEqual(state["waiting"], [])
        self.assertEqual(sorted(json.dumps(t["point"], sort_keys=True) for t in state["running"]), sorted(json.dumps(p, sort_keys=True) for p in points))

    def test_an_election_has_one_winner_per_key(self) -> None:
        workers = [self.worker() for _ in range(4)]
        won = self.concurrently([lambda b=b: b.cmd_elect({"key": "phase:grid"})["won"] for b in workers])
        self.assertEqual(sorted(won), [False, False, False, True])
        self.assertTrue(workers[0].cmd_elect({"key": "phase:random"})["won"])
        self.assertFalse(workers[1].cmd_elect({"key": "phase:random"})["won"])

    def test_a_silent_workers_trial_is_failed_once_and_its_late_tell_is_reported(self) -> None:
        a, b, c = self.worker(), self.worker(), self.worker()
        a.cmd_enqueue({"point": point(batch=4), "phase": "grid"})
        claim = a.cmd_claim({"host": "gpu-a"})
        self.assertEqual(b.cmd_reap({"timeout_s": 60})["reaped"], [])  # fresh heartbeat
        trial_id = a.pending[claim["trial_number"]]._trial_id
        a.storage_obj.set_trial_user_attr(trial_id, bridge_mod.HEARTBEAT_USER_ATTR, time.time() - 120)
        reaped = self.concurrently([lambda: b.cmd_reap({"timeout_s": 60})["reaped"], lambda: c.cmd_reap({"timeout_s": 60})["reaped"]])
        flat = [t for r in reaped for t in r]
        self.assertEqual(len(flat), 1)
        self.assertEqual(flat[0]["trial_number"], claim["trial_number"])
        self.assertEqual(flat[0]["host"], "gpu-a")
        self.assertEqual(flat[0]["point"], point(batch=4))
        self.assertGreater(flat[0]["age_s"], 119)
        told = a.cmd_tell({"trial_number": claim["trial_number"], "values": [1.0], "state": "complete"})
        self.assertTrue(told["already_finished"])
        self.assertEqual(told["state"], "fail")
        state = c.cmd_state({})
        self.assertEqual((state["lost"], state["finished"], state["running"]), (1, 0, []))

    def test_the_bridge_heartbeat_thread_stamps_claimed_trials(self) -> None:
        b = bridge_mod.Bridge(optuna)
        b.cmd_init({"space": SPACE, "seed": 7, "storage": self.url, "study_name": "shared", "heartbeat_interval_s": 0.1})
        self.bridges.append(b)
        b.cmd_enqueue({"point": point(), "phase": "baseline"})
        claim = b.cmd_claim({"host": "gpu-a"})
        first = b.study.trials[claim["trial_number"]].user_attrs[bridge_mod.HEARTBEAT_USER_ATTR]
        time.sleep(0.5)
        later = b.study.trials[claim["trial_number"]].user_attrs[bridge_mod.HEARTBEAT_USER_ATTR]
        self.assertGreater(later, first + 0.2)

    def test_ask_tpe_skips_observed_and_running_points(self) -> None:
        b = self.worker()
        observed = [point(m, q, b_, i) for m in SPACE["models"] for q in SPACE["quant"] for b_ in (1, 4, 16) for i in (128, 512)]
        free = observed.pop(5)
        running = [observed.pop(0)]
        got = b.cmd_ask_tpe({"host": "h", "observed": observed, "running": running, "max_asks": 200})
        self.assertEqual(got["point"], free)
        self.assertEqual(got["phase"], "bayesian")
        none = b.cmd_ask_tpe({"host": "h", "observed": observed + [free], "running": running, "max_asks": 5})
        self.assertIsNone(none["trial_number"])


class ProtocolTest(unittest.TestCase):
    """The real process: JSON lines in, JSON lines out, never a crash on a bad request."""

    def test_session(self) -> None:
        requests = [
            "this is not json",
            json.dumps([1, 2]),
            json.dumps({"id": 1, "cmd": "ask"}),
            json.dumps({"id": 2, "cmd": "rm -rf /"}),
            json.dumps({"id": 3, "cmd": "init", "space": SPACE, "seed": 3, "constraint": True}),
            json.dumps({"id": 4, "cmd": "ask"}),
            json.dumps({"id": 5, "cmd": "tell", "trial_number": 0, "values": [1.5], "state": "complete", "constraint": None}),
            json.dumps({"id": 6, "cmd": "best"}),
            json.dumps({"id": 7, "cmd": "add_trial", "point": {"model": 3}, "state": "complete"}),
            json.dumps({"id": 8, "cmd": "shutdown"}),
            json.dumps({"id": 9, "cmd": "ask"}),  # after shutdown: never read
        ]
        proc = subprocess.run(
            [sys.executable, BRIDGE_PATH],
            input="\n".join(requests) + "\n",
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        hello, answers = lines[0], lines[1:]
        self.assertEqual(hello["event"], "hello")
        self.assertTrue(hello["ok"])
        self.assertEqual(hello["optuna"], optuna.__version__)
        self.assertEqual(len(answers), 10)
        self.assertEqual([a["id"] for a in answers], [None, None, 1, 2, 3, 4, 5, 6, 7, 8])
        self.assertEqual([a["ok"] for a in answers], [False, False, False, False, True, True, True, True, False, True])
        self.assertIn("bad JSON", answers[0]["error"])
        self.assertIn("send `init` first", answers[2]["error"])
        self.assertIn("Expected `cmd`", answers[3]["error"])
        self.assertTrue(in_space(answers[5]["point"]))
        # unknown constraint: infeasible, so no best; no Infinity on the wire
        self.assertEqual(answers[7]["trials"], [])
        self.assertIn("point.model", answers[8]["error"])
        self.assertIn("optuna_bridge: python", proc.stderr)

    def test_missing_optuna_says_so_in_the_hello(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "optuna"))
            with open(os.path.join(tmp, "optuna", "__init__.py"), "w") as f:
                f.write("raise ModuleNotFoundError(\"No module named 'optuna'\", name='optuna')\n")
            env = dict(os.environ, PYTHONPATH=tmp)
            proc = subprocess.run([sys.executable, BRIDGE_PATH], input="", capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(proc.returncode, 3)
        hello = json.loads(proc.stdout.splitlines()[0])
        self.assertFalse(hello["ok"])
        self.assertIn("No module named 'optuna'", hello["error"])


if __name__ == "__main__":
    print(f"optuna {optuna.__version__}, python {sys.version.split()[0]}", file=sys.stderr)
    unittest.main(verbosity=2)
