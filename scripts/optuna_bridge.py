#!/usr/bin/env python3
"""Optuna bridge of carbonbench's bayesian phase (DESIGN section 7).

A long-lived process speaking JSON lines over stdio: one request per line on stdin, one answer per line
on stdout, logs on stderr. Every request is an object ``{"id": ..., "cmd": ..., ...}``; every answer is
``{"id": <same>, "ok": true, ...}`` or ``{"id": <same>, "ok": false, "error": "..."}``. A bad request
never ends the process. Before any request the bridge writes one hello line:
``{"event": "hello", "ok": true, "optuna": "5.0.0", "python": "3.11.7", ...}``, or ``"ok": false``
with the import error (then it exits with status 3), so the caller learns at once whether Optuna is
usable by this interpreter.

Commands:
  init      {space, seed, multi_objective, constraint, storage, study_name, n_startup_trials?,
             heartbeat_interval_s?}   (a thread stamps this worker's claimed trials that often)
  ask       {}                                  -> {trial_number, point}
  tell      {trial_number, values, state, constraint, kind?}
  enqueue   {point}
  add_trial {point, values, state, constraint, kind?}
  best      {}                                  -> {trials: [{trial_number, point, values, constraint}]}
  summary   {}                                  -> {n_trials, states, kinds}
  shutdown  {}

Shared study (issue 10: several `carbonbench run --study` workers, one RDB storage):
  elect     {key}                               -> {won}        once per study and key, across hosts
  state     {}                                  -> {phase, waiting, running, finished}
  set_phase {phase}
  claim     {host}                              -> {trial_number|null, point, phase}  a WAITING trial
  ask_tpe   {host, observed, running, max_asks} -> {trial_number|null, point, phase}
  reap      {timeout_s}                         -> {reaped: [{trial_number, point, phase, host, age_s}]}
  enqueue and add_trial take optional `phase` and `requeued_from` (user attrs).

A point is ``{"model", "quant", "batch", "input_len", "output_len"}`` with the values of the space.
Models and quantizations are categorical; batch sizes and lengths are an integer index into their sorted
list (ordinal). ``kind`` (user attr ``carbonbench_kind``) says why a trial exists: ``experiment`` (a
measurement), ``duplicate`` (TPE proposed an observed point; told pruned by src/search/bayesian.ts) or
``abandoned`` (proposed, then not run; told failed). ``best`` and the rebuilt study count experiments only.

Works with Debian bookworm's python3-optuna 3.1.0 and with current releases (5.0). APIs used, and where
they appeared: Study.ask/tell (2.5, #2158), ask(fixed_distributions) (2.6), enqueue_trial (1.2; stable
3.0), create_trial/add_trial (2.0; stable 3.0), IntDistribution/CategoricalDistribution (3.0),
TPESampler(multivariate=, constant_liar=, constraints_func=) (2.2 / 2.8 / 3.0, #3506).
Trial.set_constraint and create_trial(constraints=) (5.0, where constraints_func is deprecated) are
feature-detected.
"""
from __future__ import annotations

import inspect
import json
import math
import os
import sys
import time
import traceback
import warnings
from typing import Any, Dict, List, Optional

PROTOCOL_VERSION = 1
MIN_OPTUNA = (3, 1)

# Optuna's own key for constraint values in system attrs (optuna.study._constrained_optimization,
# 3.0+): TPE reads the list stored under it. Redeclared so no private module is imported.
CONSTRAINTS_SYSTEM_KEY = "constraints"
# The documented pattern (TPESampler constraints_func docs, 3.0 release note): the objective stores the
# constraint values as a user attribute and constraints_func returns them.
CONSTRAINT_USER_ATTR = "constraint"
# Named constraint for Trial.set_constraint (Optuna 5.0+).
CONSTRAINT_NAME = "bpb"
# Why a trial exists: "experiment" (a real measurement), "duplicate" (TPE proposed an observed point;
# told as pruned, never measured), "abandoned" (proposed, then not run).
KIND_USER_ATTR = "carbonbench_kind"
KINDS = ("experiment", "duplicate", "abandoned", "skipped", "released", "lost")
# Shared-study user attrs (issue 10): the phase a trial was enqueued or asked for, the worker's host
# label, its last heartbeat (epoch seconds, stamped by the worker's bridge while it holds the trial) and the trial a
# re-queued one replaces. The study's current phase is a study user attr.
PHASE_USER_ATTR = "carbonbench_phase"
HOST_USER_ATTR = "carbonbench_host"
HEARTBEAT_USER_ATTR = "carbonbench_heartbeat"
REQUEUED_USER_ATTR = "carbonbench_requeued_from"
STUDY_PHASE_ATTR = "carbonbench_phase"

ORDINAL = (("batch", "batch"), ("input_len", "input_len"), ("output_len", "output_len"))
STATES = {"complete": "COMPLETE", "fail": "FAIL", "pruned": "PRUNED"}


def log(message: str) -> None:
    sys.stderr.write(f"optuna_bridge: {message}\n")
    sys.stderr.flush()


class RequestError(Exception):
    """A request the bridge refuses (bad field, unknown trial): answered, never fatal."""


def _finite_or_none(x: Any) -> Any:
    """JSON has no Infinity/NaN: such floats travel as null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite_or_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite_or_none(v) for v in x]
    return x


def _describe(value: Any) -> str:
    return f"{json.dumps(value)[:80]} ({type(value).__name__})"


def _redact(text: str, secret: Optional[str]) -> str:
    """Removes a storage URL's password (and the URL itself) from an error message."""
    if not secret:
        return text
    out = text.replace(secret, "<storage>")
    if "@" in secret and "://" in secret:
        userinfo = secret.split("://", 1)[1].split("@", 1)[0]
        if ":" in userinfo:
            password = userinfo.split(":", 1)[1]
            if password:
                out = out.replace(password, "***")
    return out


class Bridge:
    def __init__(self, optuna: Any) -> None:
        self.optuna = optuna
        from optuna.trial import Trial, create_trial

        # Optuna 5.0 moved constraints into the core Trial API and deprecated constraints_func.
        self.new_constraints = hasattr(Trial, "set_constraint") and (
            "constraints" in inspect.signature(create_trial).parameters
        )
        self.study: Any = None
        self.pending: Dict[int, Any] = {}
        self.storage_url: Optional[str] = None
        self.storage_obj: Any = None
        # Claimed trials (number -> trial id) the heartbeat thread stamps.
        import threading

        self.claimed: Dict[int, int] = {}
        self.claimed_lock = threading.Lock()

    # ---- the space ----------------------------------------------------------------------------------

    @staticmethod
    def _parse_space(space: Any) -> Any:
        """(values, distributions) of a space, or RequestError."""
        from optuna.distributions import CategoricalDistribution, IntDistribution

        if not isinstance(space, dict):
            raise RequestError(f"Expected `space` to be an object, got {_describe(space)}")
        values: Dict[str, List[Any]] = {}
        for key in ("models", "quant"):
            choices = space.get(key)
            if not isinstance(choices, list) or not choices or not all(isinstance(c, str) and c for c in choices):
                raise RequestError(f"Expected `space.{key}` to be a non-empty list of strings, got {_describe(choices)}")
            if len(set(choices)) != len(choices):
                raise RequestError(f"Expected `space.{key}` to have no duplicates, got {_describe(choices)}")
            values[key] = list(choices)
        for key, _ in ORDINAL:
            choices = space.get(key)
            if (
                not isinstance(choices, list)
                or not choices
                or not all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in choices)
            ):
                raise RequestError(f"Expected `space.{key}` to be a non-empty list of numbers, got {_describe(choices)}")
            # Ascending order so that the index is ordinal whatever order program.md lists them in.
            values[key] = sorted(set(choices))
        # Models and quantizations have no order TPE could use: categorical. Batch sizes and lengths are
        # ordered numbers: an integer index into the sorted list, so that TPE's Parzen estimator shares
        # evidence between neighbours (batch 32 informs 64) instead of treating them as unrelated
        # categories. The index rather than the value because the lists are usually geometric
        # (1, 2, 4 … 256), which a linear IntDistribution over values would squash into its low end, and
        # because an arbitrary list has no common step.
        distributions: Dict[str, Any] = {
            "model": CategoricalDistribution(values["models"]),
            "quant": CategoricalDistribution(values["quant"]),
        }
        for key, _ in ORDINAL:
            distributions[f"{key}_idx"] = IntDistribution(0, len(values[key]) - 1)
        return values, distributions

    def _to_point(self, params: Dict[str, Any]) -> Dict[str, Any]:
        point: Dict[str, Any] = {"model": params["model"], "quant": params["quant"]}
        for key, _ in ORDINAL:
            point[key] = self.values[key][int(params[f"{key}_idx"])]
        return point

    def _to_params(self, point: Any) -> Dict[str, Any]:
        if not isinstance(point, dict):
            raise RequestError(f"Expected `point` to be an object, got {_describe(point)}")
        params: Dict[str, Any] = {}
        for field, key in (("model", "models"), ("quant", "quant")):
            if point.get(field) not in self.values[key]:
                raise RequestError(f"Expected `point.{field}` to be one of {json.dumps(self.values[key])}, got {_describe(point.get(field))}")
            params[field] = point[field]
        for key, _ in ORDINAL:
            v = point.get(key)
            matches = [i for i, c in enumerate(self.values[key]) if isinstance(v, (int, float)) and not isinstance(v, bool) and c == v]
            if not matches:
                raise RequestError(f"Expected `point.{key}` to be one of {json.dumps(self.values[key])}, got {_describe(v)}")
            params[f"{key}_idx"] = matches[0]
        return params

    # ---- helpers ------------------------------------------------------------------------------------

    def _require_study(self) -> Any:
        if self.study is None:
            raise RequestError("no study: send `init` first")
        return self.study

    def _state(self, req: Dict[str, Any]) -> Any:
        from optuna.trial import TrialState

        state = req.get("state", "complete")
        if state not in STATES:
            raise RequestError(f"Expected `state` to be one of {json.dumps(sorted(STATES))}, got {_describe(state)}")
        return getattr(TrialState, STATES[state])

    def _values(self, req: Dict[str, Any], state: Any) -> Optional[List[float]]:
        from optuna.trial import TrialState

        values = req.get("values")
        if state != TrialState.COMPLETE:
            return None
        n = len(self.study.directions)
        if (
            not isinstance(values, list)
            or len(values) != n
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
        ):
            raise RequestError(f"Expected `values` to be a list of {n} finite numbers for a complete trial, got {_describe(values)}")
        return [float(v) for v in values]

    def _constraint(self, req: Dict[str, Any], state: Any) -> Optional[float]:
        """The constraint value to store, or None when there is none to store.

        For a complete trial of a constrained study, null means "unknown" (BPB not measured): stored as
        +inf, i.e. infeasible, ranked below every measured infeasible trial by TPE. The objective values
        are never touched: the constraint is a constraint, not a penalty.
        """
        from optuna.trial import TrialState

        c = req.get("constraint")
        if c is not None and (isinstance(c, bool) or not isinstance(c, (int, float)) or math.isnan(c)):
            raise RequestError(f"Expected `constraint` to be a number or null, got {_describe(c)}")
        if not self.constraint:
            return None
        if state == TrialState.COMPLETE:
            return float("inf") if c is None else float(c)
        if state == TrialState.PRUNED and c is not None:
            return float(c)
        return None

    def _kind(self, req: Dict[str, Any]) -> str:
        kind = req.get("kind", "experiment")
        if kind not in KINDS:
            raise RequestError(f"Expected `kind` to be one of {json.dumps(list(KINDS))}, got {_describe(kind)}")
        return kind

    def _trial_constraint(self, trial: Any) -> Optional[float]:
        c = trial.user_attrs.get(CONSTRAINT_USER_ATTR)
        if isinstance(c, (list, tuple)) and c:
            return float(max(c))  # feasible iff every value <= 0
        return None

    def _summary_trial(self, trial: Any) -> Dict[str, Any]:
        try:
            point: Optional[Dict[str, Any]] = self._to_point(trial.params)
        except (KeyError, IndexError, ValueError):
            point = None  # a trial of another space (program.md edited): not mappable
        return {
            "trial_number": trial.number,
            "state": trial.state.name.lower(),
            "kind": trial.user_attrs.get(KIND_USER_ATTR, "experiment"),
            "point": point,
        }

    # ---- commands -----------------------------------------------------------------------------------

    def cmd_init(self, req: Dict[str, Any]) -> Dict[str, Any]:
        optuna = self.optuna
        # Everything is validated and built first; the bridge's state changes only once the study opens.
        values, distributions = self._parse_space(req.get("space"))
        seed = req.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise RequestError(f"Expected `seed` to be an integer or null, got {_describe(seed)}")
        for key in ("multi_objective", "constraint"):
            if not isinstance(req.get(key, False), bool):
                raise RequestError(f"Expected `{key}` to be a boolean, got {_describe(req.get(key))}")
        storage = req.get("storage")
        if storage is not None and (not isinstance(storage, str) or not storage):
            raise RequestError("Expected `storage` to be null or a database URL string")
        study_name = req.get("study_name", "carbonbench")
        if not isinstance(study_name, str) or not study_name:
            raise RequestError(f"Expected `study_name` to be a non-empty string, got {_describe(study_name)}")
        heartbeat_s = req.get("heartbeat_interval_s")
        if heartbeat_s is not None and (isinstance(heartbeat_s, bool) or not isinstance(heartbeat_s, (int, float)) or not heartbeat_s > 0):
            raise RequestError(f"Expected `heartbeat_interval_s` to be a number of seconds > 0 or null, got {_describe(heartbeat_s)}")
        n_startup = req.get("n_startup_trials", 10)
        if isinstance(n_startup, bool) or not isinstance(n_startup, int) or n_startup < 0:
            raise RequestError(f"Expected `n_startup_trials` to be a non-negative integer, got {_describe(n_startup)}")

        multi_objective = bool(req.get("multi_objective", False))
        constraint = bool(req.get("constraint", False))
        sampler_kwargs: Dict[str, Any] = {
            "seed": seed,
            "n_startup_trials": n_startup,
            "multivariate": True,
            # Penalises RUNNING trials (3.1: single objective only; 3.5+: also multi-objective), so that
            # the n trials of one propose() differ and hosts sharing a study do not all ask for the same
            # point. Default since 5.0; explicit for 3.x.
            "constant_liar": True,
        }
        if constraint and not self.new_constraints:
            # Optuna 3.0-4.x: TPE learns feasibility only through constraints_func, called by tell().
            sampler_kwargs["constraints_func"] = _constraints_from_user_attr
        sampler = optuna.samplers.TPESampler(**sampler_kwargs)
        directions = ["minimize", "minimize"] if multi_objective else ["minimize"]
        try:
            storage_obj = _open_storage(optuna, storage) if storage is not None else None
            study = optuna.create_study(
                storage=storage_obj,
                study_name=study_name,
                sampler=sampler,
                directions=directions,
                load_if_exists=storage is not None,
            )
        except Exception as exc:  # a storage error: never echo the URL or its password
            raise RequestError(_redact(f"cannot open the study: {type(exc).__name__}: {exc}", storage)) from None
        if [d.name.lower() for d in study.directions] != directions:
            raise RequestError(
                f"study {study_name!r} exists with directions {[d.name.lower() for d in study.directions]}, "
                f"not {directions}: use another study name"
            )
        self.study = study
        self.pending = {}
        self.values = values
        self.distributions = distributions
        self.multi_objective = multi_objective
        self.constraint = constraint
        self.storage_url = storage
        self.storage_obj = storage_obj
        if heartbeat_s is not None and storage_obj is not None:
            self._start_heartbeat(float(heartbeat_s))
        trials = [self._summary_trial(t) for t in study.get_trials(deepcopy=False)]
        log(
            f"study {study_name!r} ({'storage' if storage else 'in memory'}): {len(trials)} trials, "
            f"directions {directions}, constraint {'on' if self.constraint else 'off'}"
            f" ({'set_constraint' if self.new_constraints else 'constraints_func'})"
        )
        return {"n_trials": len(trials), "trials": trials, "values": self.values}

    def cmd_ask(self, req: Dict[str, Any]) -> Dict[str, Any]:
        study = self._require_study()
        # The fixed distributions make the trial sample every parameter inside ask(); an enqueued trial
        # takes its enqueued values.
        trial = study.ask(fixed_distributions=self.distributions)
        self.pending[trial.number] = trial
        return {"trial_number": trial.number, "point": self._to_point(trial.params)}

    def cmd_tell(self, req: Dict[str, Any]) -> Dict[str, Any]:
        study = self._require_study()
        number = req.get("trial_number")
        if isinstance(number, bool) or not isinstance(number, int):
            raise RequestError(f"Expected `trial_number` to be an integer, got {_describe(number)}")
        trial = self.pending.get(number)
        if trial is None:
            raise RequestError(f"trial {number} is not pending in this bridge (not asked here, or already told)")
        state = self._state(req)
        values = self._values(req, state)
        constraint = self._constraint(req, state)
        kind = self._kind(req)
        from optuna.exceptions import UpdateFinishedTrialError

        self._unclaim(number)  # no more heartbeats: the trial is being finished
        try:
            trial.set_user_attr(KIND_USER_ATTR, kind)
            if constraint is not None:
                trial.set_user_attr(CONSTRAINT_USER_ATTR, [constraint])
                if self.new_constraints:
                    trial.set_constraint(CONSTRAINT_NAME, constraint)
                # else: tell() calls the sampler's after_trial, whose constraints_func reads the user attr
                # and stores the system attr TPE uses.
            study.tell(trial, values=values, state=state)
        except (UpdateFinishedTrialError, ValueError) as exc:
            # In a shared study another worker may have failed this trial as stale (its heartbeats
            # stopped for longer than the timeout) and re-queued it: report it, never crash.
            current = self._trial_state(number)
            if current is None or not current.is_finished():
                raise
            del self.pending[number]
            log(f"trial {number} was already {current.name.lower()} (failed as stale by another worker?): {exc}")
            return {"trial_number": number, "state": current.name.lower(), "already_finished": True}
        del self.pending[number]
        return {"trial_number": number, "state": state.name.lower()}

    def _unclaim(self, number: int) -> None:
        with self.claimed_lock:
            self.claimed.pop(number, None)

    # ---- shared study (issue 10) ---------------------------------------------------------------------

    def _trial_state(self, number: int) -> Any:
        for t in self.study.get_trials(deepcopy=False):
            if t.number == number:
                return t.state
        return None

    def _require_storage(self) -> Any:
        study = self._require_study()
        if self.storage_obj is None:
            raise RequestError("this command needs a shared study: `init` with an RDB `storage` URL")
        return study

    def _key(self, point: Dict[str, Any]) -> str:
        return json.dumps([point["model"], point["quant"], point["batch"], point["input_len"], point["output_len"]])

    def _trial_info(self, t: Any) -> Dict[str, Any]:
        try:
            point: Optional[Dict[str, Any]] = self._to_point(t.params)
        except (KeyError, IndexError, ValueError):
            point = None
        if point is None and isinstance(t.system_attrs.get("fixed_params"), dict):
            try:
                point = self._to_point(t.system_attrs["fixed_params"])
            except (KeyError, IndexError, ValueError):
                point = None
        return {
            "trial_number": t.number,
            "point": point,
            "phase": t.user_attrs.get(PHASE_USER_ATTR),
            "host": t.user_attrs.get(HOST_USER_ATTR),
            "requeued_from": t.user_attrs.get(REQUEUED_USER_ATTR),
        }

    def _start_heartbeat(self, interval_s: float) -> None:
        """Stamps this worker's claimed trials every `interval_s` from a thread of this process.

        In the bridge rather than in Node: a simulated experiment keeps Node's event loop busy for
        seconds, and a worker is alive exactly as long as its bridge is (the bridge exits when the
        worker's end of its stdin closes, kill -9 included). Optuna's own HeartbeatThread does the same
        from a thread, through the same thread-local sessions of RDBStorage.
        """
        import threading

        from optuna.exceptions import UpdateFinishedTrialError

        def beat() -> None:
            while True:
                time.sleep(interval_s)
                with self.claimed_lock:
                    trials = list(self.claimed.items())
                for number, trial_id in trials:
                    try:
                        self.storage_obj.set_trial_user_attr(trial_id, HEARTBEAT_USER_ATTR, time.time())
                    except UpdateFinishedTrialError:
                        with self.claimed_lock:
                            self.claimed.pop(number, None)
                    except Exception as exc:  # a storage hiccup: the next beat tries again
                        log(_redact(f"heartbeat of trial {number} not recorded: {type(exc).__name__}: {exc}", self.storage_url))

        threading.Thread(target=beat, name="carbonbench-heartbeat", daemon=True).start()

    def _mark_claimed(self, trial: Any, host: Any, phase: str) -> Dict[str, Any]:
        if isinstance(host, str) and host:
            trial.set_user_attr(HOST_USER_ATTR, host)
        trial.set_user_attr(PHASE_USER_ATTR, phase)
        # The first heartbeat at once: a worker that dies right after the claim is still found stale.
        trial.set_user_attr(HEARTBEAT_USER_ATTR, time.time())
        self.pending[trial.number] = trial
        with self.claimed_lock:
            self.claimed[trial.number] = trial._trial_id
        return {
            "trial_number": trial.number,
            "point": self._to_point(trial.params),
            "phase": phase,
            "requeued_from": trial.user_attrs.get(REQUEUED_USER_ATTR),
        }

    def cmd_elect(self, req: Dict[str, Any]) -> Dict[str, Any]:
        """True for exactly one caller per (study, key), on every host.

        The marker is a study named ``<study>::<key>``: Optuna's ``studies.study_name`` column is UNIQUE,
        and RDBStorage.create_new_study turns the IntegrityError of a second insert into
        DuplicatedStudyError (optuna/storages/_rdb/storage.py, Optuna 5.0), so the database, not a
        read-then-write in this process, decides the single winner.
        """
        study = self._require_storage()
        key = req.get("key")
        if not isinstance(key, str) or not key:
            raise RequestError(f"Expected `key` to be a non-empty string, got {_describe(key)}")
        try:
            self.optuna.create_study(storage=self.storage_obj, study_name=f"{study.study_name}::{key}", load_if_exists=False)
        except self.optuna.exceptions.DuplicatedStudyError:
            return {"won": False}
        return {"won": True}

    def cmd_set_phase(self, req: Dict[str, Any]) -> Dict[str, Any]:
        study = self._require_storage()
        phase = req.get("phase")
        if not isinstance(phase, str) or not phase:
            raise RequestError(f"Expected `phase` to be a non-empty string, got {_describe(phase)}")
        study.set_user_attr(STUDY_PHASE_ATTR, phase)
        return {}

    def cmd_state(self, req: Dict[str, Any]) -> Dict[str, Any]:
        from optuna.trial import TrialState

        study = self._require_storage()
        waiting: List[Dict[str, Any]] = []
        running: List[Dict[str, Any]] = []
        finished = 0
        lost = 0
        for t in study.get_trials(deepcopy=False):
            kind = t.user_attrs.get(KIND_USER_ATTR)
            if t.state == TrialState.WAITING:
                waiting.append(self._trial_info(t))
            elif t.state == TrialState.RUNNING:
                running.append({**self._trial_info(t), "mine": t.number in self.pending})
            elif t.state == TrialState.COMPLETE or (t.state == TrialState.FAIL and kind == "experiment"):
                finished += 1
            elif t.state == TrialState.FAIL and kind == "lost":
                lost += 1
        return {
            "phase": study.user_attrs.get(STUDY_PHASE_ATTR),
            "waiting": waiting,
            "running": running,
            "finished": finished,
            "lost": lost,
        }

    def cmd_claim(self, req: Dict[str, Any]) -> Dict[str, Any]:
        """Hands this worker one WAITING (enqueued) trial, or none.

        Study.ask() pops a waiting trial through RDBStorage.set_trial_state_values(RUNNING), which loads
        the trial row with SELECT ... FOR UPDATE and refuses unless it is still WAITING (Optuna 5.0:
        optuna/study/study.py Study._pop_waiting_trial_id, optuna/storages/_rdb/storage.py
        set_trial_state_values): of concurrent askers exactly one gets each enqueued trial. On SQLite the
        storage's transactions are BEGIN IMMEDIATE (see _open_storage), which serialises the same steps.
        """
        from optuna.trial import TrialState

        study = self._require_storage()
        if not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            return {"trial_number": None}
        trial = study.ask(fixed_distributions=self.distributions)
        phase = trial.user_attrs.get(PHASE_USER_ATTR)
        if phase is None:
            # The queue drained between the check and ask(): ask() sampled a new trial instead.
            trial.set_user_attr(KIND_USER_ATTR, "abandoned")
            study.tell(trial, state=TrialState.FAIL)
            return {"trial_number": None}
        return self._mark_claimed(trial, req.get("host"), phase)

    def cmd_ask_tpe(self, req: Dict[str, Any]) -> Dict[str, Any]:
        """A new TPE trial (constant_liar: other workers' RUNNING trials count as bad), skipping points
        already observed (told pruned, as in the single-host bridge) or being measured elsewhere (told
        failed). A re-queued WAITING trial that ask() pops comes back as it is."""
        from optuna.trial import TrialState

        study = self._require_storage()
        observed = set(self._keys(req.get("observed"), "observed"))
        running = set(self._keys(req.get("running"), "running"))
        max_asks = req.get("max_asks", 10)
        if isinstance(max_asks, bool) or not isinstance(max_asks, int) or max_asks < 1:
            raise RequestError(f"Expected `max_asks` to be a positive integer, got {_describe(max_asks)}")
        for _ in range(max_asks):
            trial = study.ask(fixed_distributions=self.distributions)
            queued_phase = trial.user_attrs.get(PHASE_USER_ATTR)
            if queued_phase is not None:
                return self._mark_claimed(trial, req.get("host"), queued_phase)
            key = self._key(self._to_point(trial.params))
            if key in observed or key in running:
                trial.set_user_attr(KIND_USER_ATTR, "duplicate")
                study.tell(trial, state=TrialState.PRUNED if key in observed else TrialState.FAIL)
                continue
            return self._mark_claimed(trial, req.get("host"), "bayesian")
        return {"trial_number": None}

    def _keys(self, points: Any, name: str) -> List[str]:
        if points is None:
            return []
        if not isinstance(points, list):
            raise RequestError(f"Expected `{name}` to be a list of points, got {_describe(points)}")
        out = []
        for p in points:
            if not isinstance(p, dict):
                raise RequestError(f"Expected `{name}` to be a list of points, got {_describe(p)}")
            out.append(json.dumps([p.get("model"), p.get("quant"), p.get("batch"), p.get("input_len"), p.get("output_len")]))
        return out

    def cmd_reap(self, req: Dict[str, Any]) -> Dict[str, Any]:
        """Fails the RUNNING trials of other workers whose last heartbeat is older than `timeout_s`.

        The FAIL goes through RDBStorage.set_trial_state_values, which locks the row and raises
        UpdateFinishedTrialError when the trial is already finished: of several reapers (or a reaper and
        a late owner) exactly one changes the state, and only that one reports the trial (the caller
        re-queues its config).
        """
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        study = self._require_storage()
        timeout = req.get("timeout_s")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise RequestError(f"Expected `timeout_s` to be a number of seconds > 0, got {_describe(timeout)}")
        now = time.time()
        reaped = []
        storage = study._storage  # the RDBStorage the study was opened with
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if t.number in self.pending:
                continue
            beat = t.user_attrs.get(HEARTBEAT_USER_ATTR)
            if isinstance(beat, (int, float)) and not isinstance(beat, bool):
                last = float(beat)
            elif t.datetime_start is not None:
                last = t.datetime_start.timestamp()
            else:
                continue
            if now - last <= timeout:
                continue
            try:
                storage.set_trial_user_attr(t._trial_id, KIND_USER_ATTR, "lost")
                storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
            except UpdateFinishedTrialError:
                continue  # finished meanwhile (its owner told it, or another worker reaped it)
            reaped.append({**self._trial_info(t), "age_s": now - last})
        return {"reaped": reaped}

    def _queue_attrs(self, req: Dict[str, Any]) -> Dict[str, Any]:
        attrs: Dict[str, Any] = {}
        phase = req.get("phase")
        if phase is not None:
            if not isinstance(phase, str) or not phase:
                raise RequestError(f"Expected `phase` to be a non-empty string, got {_describe(phase)}")
            attrs[PHASE_USER_ATTR] = phase
        requeued = req.get("requeued_from")
        if requeued is not None:
            if isinstance(requeued, bool) or not isinstance(requeued, int):
                raise RequestError(f"Expected `requeued_from` to be a trial number, got {_describe(requeued)}")
            attrs[REQUEUED_USER_ATTR] = requeued
        return attrs

    def cmd_enqueue(self, req: Dict[str, Any]) -> Dict[str, Any]:
        study = self._require_study()
        params = self._to_params(req.get("point"))
        attrs = self._queue_attrs(req)
        # A WAITING trial: the next ask() of any worker pops it, and exactly one does (see cmd_claim).
        study.enqueue_trial(params, user_attrs=attrs or None)
        return {}

    def cmd_add_trial(self, req: Dict[str, Any]) -> Dict[str, Any]:
        from optuna.trial import TrialState, create_trial

        study = self._require_study()
        params = self._to_params(req.get("point"))
        state = self._state(req)
        if state == TrialState.PRUNED:
            raise RequestError("add_trial takes `state` complete or fail (pruned trials are never replayed)")
        values = self._values(req, state)
        constraint = self._constraint(req, state)
        kind = self._kind(req)
        user_attrs: Dict[str, Any] = {KIND_USER_ATTR: kind, **self._queue_attrs(req)}
        host = req.get("host")
        if isinstance(host, str) and host:
            user_attrs[HOST_USER_ATTR] = host
        kwargs: Dict[str, Any] = {}
        if constraint is not None:
            user_attrs[CONSTRAINT_USER_ATTR] = [constraint]
            if self.new_constraints:
                kwargs["constraints"] = {CONSTRAINT_NAME: constraint}
            else:
                # No sampler callback runs for add_trial: store what constraints_func would have stored.
                kwargs["system_attrs"] = {CONSTRAINTS_SYSTEM_KEY: [constraint]}
        frozen = create_trial(
            state=state,
            values=values,
            params=params,
            distributions=self.distributions,
            user_attrs=user_attrs,
            **kwargs,
        )
        study.add_trial(frozen)
        return {"n_trials": len(study.get_trials(deepcopy=False))}

    def cmd_best(self, req: Dict[str, Any]) -> Dict[str, Any]:
        from optuna.trial import TrialState

        study = self._require_study()
        # Computed here rather than with study.best_trial(s): before Optuna 4.x those ignore constraints,
        # and this way the answer is the same on every version.
        feasible = []
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if t.user_attrs.get(KIND_USER_ATTR, "experiment") != "experiment" or t.values is None:
                continue
            c = self._trial_constraint(t)
            if self.constraint and (c is None or c > 0):
                continue
            feasible.append(t)
        if not feasible:
            best: List[Any] = []
        elif not self.multi_objective:
            best = [min(feasible, key=lambda t: (t.values[0], t.number))]
        else:
            best = [t for t in feasible if not any(_dominates(u.values, t.values) for u in feasible)]
        return {
            "trials": [
                {
                    "trial_number": t.number,
                    "point": self._to_point(t.params),
                    "values": list(t.values),
                    "constraint": self._trial_constraint(t),
                }
                for t in sorted(best, key=lambda t: t.number)
            ]
        }

    def cmd_summary(self, req: Dict[str, Any]) -> Dict[str, Any]:
        study = self._require_study()
        states: Dict[str, int] = {}
        kinds: Dict[str, int] = {}
        experiments: Dict[str, int] = {}
        for t in study.get_trials(deepcopy=False):
            state = t.state.name.lower()
            kind = t.user_attrs.get(KIND_USER_ATTR, "experiment" if t.state.is_finished() else "pending")
            states[state] = states.get(state, 0) + 1
            kinds[kind] = kinds.get(kind, 0) + 1
            if kind == "experiment":
                experiments[state] = experiments.get(state, 0) + 1
        return {
            "n_trials": sum(states.values()),
            "states": states,
            "kinds": kinds,
            "experiments": experiments,
            "pending": sorted(self.pending),
        }

    def handle(self, req: Dict[str, Any]) -> Dict[str, Any]:
        cmd = req.get("cmd")
        handler = getattr(self, f"cmd_{cmd}", None) if isinstance(cmd, str) and cmd.isidentifier() else None
        if handler is None:
            raise RequestError(
                f"Expected `cmd` to be one of init, ask, tell, enqueue, add_trial, best, summary, elect, state, set_phase, claim, ask_tpe, reap, shutdown, got {_describe(cmd)}"
            )
        return handler(req)


def _open_storage(optuna: Any, url: str) -> Any:
    """The RDBStorage of a URL.

    SQLite (one file shared by several local workers) gets a long busy timeout and BEGIN IMMEDIATE
    transactions (the SQLAlchemy recipe for pysqlite): a deferred transaction that reads and then writes
    can fail at once with "database is locked" when two processes upgrade their read locks together;
    taking the write lock at BEGIN makes them queue.

    Several workers starting together on an empty database all create Optuna's schema; the losers of
    that race get a unique violation (CREATE TYPE, alembic_version) or a lock error and succeed on a
    retry, once the winner's schema is committed.
    """
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    sqlite = url.startswith("sqlite")
    engine_kwargs: Dict[str, Any] = {"connect_args": {"timeout": 60}} if sqlite else {"pool_pre_ping": True}
    for attempt in range(8):
        try:
            storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
            break
        except (IntegrityError, ProgrammingError, OperationalError) as exc:
            if attempt == 7:
                raise
            log(_redact(f"creating Optuna's schema raced with another worker ({type(exc).__name__}); retrying", url))
            time.sleep(0.25 * (attempt + 1))
    if sqlite:
        from sqlalchemy import event

        engine = storage.engine

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # pysqlite's own BEGIN handling off

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        engine.dispose()
    return storage


def _constraints_from_user_attr(trial: Any) -> List[float]:
    c = trial.user_attrs.get(CONSTRAINT_USER_ATTR)
    # A pruned duplicate whose original had no constraint: unknown, so infeasible.
    return list(c) if c is not None else [float("inf")]


def _dominates(a: List[float], b: List[float]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def main() -> int:
    protocol_out = sys.stdout
    # The protocol owns the real stdout: whatever a library prints goes to stderr instead.
    sys.stdout = sys.stderr

    def write(obj: Dict[str, Any]) -> None:
        protocol_out.write(json.dumps(_finite_or_none(obj), allow_nan=False, separators=(",", ":")) + "\n")
        protocol_out.flush()

    python_version = sys.version.split()[0]
    try:
        import optuna
    except Exception as exc:  # ImportError, or a broken install raising anything else
        write({"event": "hello", "ok": False, "error": f"{type(exc).__name__}: {exc}", "python": python_version, "executable": sys.executable})
        return 3
    version = tuple(int(p) for p in optuna.__version__.split(".")[:2] if p.isdigit())
    if version < MIN_OPTUNA:
        write({"event": "hello", "ok": False, "error": f"Optuna {optuna.__version__} is too old (need >= 3.1)", "python": python_version, "optuna": optuna.__version__})
        return 3

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # multivariate, constant_liar and constraints_func are "experimental" in 3.x; say it once, not per trial.
    warnings.simplefilter("once")
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    bridge = Bridge(optuna)
    log(f"python {python_version}, optuna {optuna.__version__}, pid {os.getpid()}, protocol {PROTOCOL_VERSION}")
    write({
        "event": "hello",
        "ok": True,
        "protocol": PROTOCOL_VERSION,
        "optuna": optuna.__version__,
        "python": python_version,
        "pid": os.getpid(),
        "set_constraint": bridge.new_constraints,
    })

    while True:
        line = sys.stdin.readline()
        if line == "":
            log("stdin closed: exiting")
            return 0
        line = line.strip()
        if not line:
            continue
        rid: Any = None
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise RequestError(f"Expected a JSON object per line, got {_describe(req)}")
            rid = req.get("id")
            if req.get("cmd") == "shutdown":
                write({"id": rid, "ok": True})
                log("shutdown")
                return 0
            write({"id": rid, "ok": True, **bridge.handle(req)})
        except json.JSONDecodeError as exc:
            write({"id": None, "ok": False, "error": f"bad JSON: {exc}"})
        except RequestError as exc:
            write({"id": rid, "ok": False, "error": str(exc)})
        except Exception as exc:  # an Optuna error: answer it, log the traceback, keep serving
            log(_redact(traceback.format_exc(), bridge.storage_url))
            write({"id": rid, "ok": False, "error": _redact(f"{type(exc).__name__}: {exc}", bridge.storage_url)})


if __name__ == "__main__":
    sys.exit(main())
