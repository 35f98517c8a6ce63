"""What the three studies share: their data, the run list, resuming, parallel runs, the run log.

A study is a list of independent training runs (a *grid*: dataset × model × width × seed, ...).
``run_study`` trains the runs that are not yet in ``<out>/runs.jsonl``, appending one JSON
line as each one finishes, so an interrupted study loses at most the runs in flight and the
next invocation picks up where it stopped.  Every invocation that trains runs is logged in
``<out>/run.json`` (and ``RUN.md``) with its exact command, machine, versions and wall time: written
before its first run and updated after each one.  The table and the
figures are rebuilt from all the runs on disk, however many there are.

One folder holds one protocol (the settings that are not the grid): another invocation with other
settings is refused while runs are on disk, and so is a second invocation while one is training
into the folder (a lock, ``.lock``).  A run that raises stops the study with ``RunFailed``, which
names it; the runs finished before are kept.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import functools
import json
import math
import multiprocessing
import os
import shlex
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..cli import positive_int  # noqa: F401  (the studies' option parsers share the CLI's)
from ..datasets import DATASETS, Dataset, load_dataset
from ..atomic import write_text
from ..experiment import RunFailed, machine_info, save_figure, write_json  # noqa: F401  (save_figure: for the studies)

# Every JSON line holds at least these keys (those of ``minispectral train --json`` plus study and run_id).
REQUIRED_KEYS = ("study", "run_id", "seed", "model", "dataset", "hidden", "trainable_parameters",
                 "test_accuracy", "epoch_seconds", "history")

# The validation and quick-mode subsets are drawn with this seed, the same for every run seed,
# so the seeds differ only in the initial weights and the batch order (as with Keras'
# validation_split, which always holds out the same samples).
SPLIT_SEED = 0

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Option:
    """A setting that a command-line flag overrides.

    ``parse`` turns the flag's text into the setting (raising ``argparse.ArgumentTypeError``
    on bad text, so the command exits with status 2); ``parse=None`` makes a switch that sets
    the setting to ``switch_value``.
    """

    key: str
    flag: str
    parse: Callable | None
    help: str
    switch_value: object = None

    def add_to(self, parser) -> None:
        if self.parse is None:
            parser.add_argument(self.flag, dest=self.key, action="store_const", const=self.switch_value,
                                default=None, help=self.help)
        else:
            parser.add_argument(self.flag, dest=self.key, type=self.parse, default=None, help=self.help)

    def argv(self, value) -> list[str]:
        """The flag (and value) that sets ``value``."""
        if self.parse is None:
            return [self.flag]
        text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        return [self.flag, text]


def csv_of(choices) -> Callable:
    """Parser of 'a,b' into a list of names from ``choices`` (order kept, duplicates dropped)."""
    def parse(text: str) -> list:
        items = list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {','.join(choices)}, got {text!r}")
        return items
    return parse


def csv_ints(lo: int, hi: int, step: int = 1) -> Callable:
    """Parser of '50,100' into a sorted list of distinct integers in [lo, hi] (multiples of ``step``)."""
    def parse(text: str) -> list:
        try:
            items = sorted({int(t) for t in text.split(",") if t.strip()})
        except ValueError:
            items = []
        if not items or items[0] < lo or items[-1] > hi or any(i % step for i in items):
            steps = "" if step == 1 else f" that are multiples of {step}"
            raise argparse.ArgumentTypeError(f"expected comma-separated integers in [{lo}, {hi}]{steps}, got {text!r}")
        return items
    return parse


# The options every study that needs them declares alike.
DATASETS_OPTION = Option("datasets", "--datasets", csv_of(DATASETS), "comma-separated (default: mnist,fashion-mnist)")
FULL_R_OPTION = Option("triangular", "--full-r", None, "QR: train the full m×m R, as the authors' code does "
                       "(default: lower-triangular R, the paper's parameter count)", switch_value=False)


class Study:
    """One paper study: its settings, its grid of runs, one run, its cost, its report.

    Subclasses set ``name``, ``FULL`` and ``QUICK`` (the settings of the two modes),
    ``OPTIONS`` (the settings a flag may override), ``GRID_KEYS`` (the settings that only
    choose which runs exist, so they may grow between invocations) and implement the methods
    below.  ``settings`` is a JSON-able dict; everything in it except ``GRID_KEYS`` and
    ``data_dir`` is the *protocol*, which must not change within one output folder.
    """

    name = ""
    FULL: dict = {}
    QUICK: dict = {}
    OPTIONS: tuple = ()
    GRID_KEYS: tuple = ()
    RECORD_KEYS: tuple = ()  # what this study's records hold beyond REQUIRED_KEYS (its report reads them)

    def __init__(self, settings: dict):
        # Through JSON so that settings read back from run.json compare equal (tuples become lists).
        self.settings = json.loads(json.dumps(settings))

    @classmethod
    def from_args(cls, args) -> "Study":
        settings = dict(cls.QUICK if args.quick else cls.FULL)
        for option in cls.OPTIONS:
            value = getattr(args, option.key)
            if value is not None:
                settings[option.key] = value
        settings.update(quick=bool(args.quick), data_dir=args.data_dir)
        return cls(settings)

    def command(self, out_dir=None, jobs: int = 1, scheduler: str | None = None) -> str:
        """The command line that reproduces these settings (options at their mode default are left out)."""
        quick = self.settings.get("quick", False)  # a custom study's settings may not say
        defaults = json.loads(json.dumps(self.QUICK if quick else self.FULL))
        argv = ["--quick"] if quick else []
        for option in self.OPTIONS:
            if option.key in self.settings and self.settings[option.key] != defaults.get(option.key):
                argv += option.argv(self.settings[option.key])
        if out_dir is not None:
            argv += ["--out", str(out_dir)]
        where = ["--scheduler", scheduler] if scheduler else ["--jobs", str(jobs)]
        return shlex.join(["minispectral", "reproduce", self.name, *argv, *where])

    # --- to be provided by each study ------------------------------------------------------
    def runs(self) -> list[dict]:
        """The grid, in training order: one JSON-able spec per run, each with a unique ``run_id``."""
        raise NotImplementedError

    def train(self, spec: dict) -> dict:
        """Train and test one run; returns its record (``REQUIRED_KEYS`` and more)."""
        raise NotImplementedError

    def cost(self, spec: dict, step_seconds) -> tuple[float, float]:
        """(typical, worst-case) seconds for one run; ``step_seconds(sizes, model, ...)`` times one step."""
        raise NotImplementedError

    def report(self, records: list[dict], out_dir: Path, missing: list[dict]) -> list[Path]:
        """Write table.md and the figures from ``records``; returns the paths written."""
        raise NotImplementedError

    # Keys shared by a run's spec and its record that predict how many epochs early stopping lets it run.
    EPOCH_GROUP: tuple = ()

    def observe(self, records: list[dict]) -> None:
        """Remember how many epochs finished runs took, for ``typical_epochs``."""
        self._epochs_seen: dict = {}
        for r in records:
            self._epochs_seen.setdefault(tuple(r[k] for k in self.EPOCH_GROUP), []).append(len(r["epoch_seconds"]))

    def typical_epochs(self, spec: dict, guess: float) -> float:
        """Mean epochs of the finished runs like ``spec`` (same ``EPOCH_GROUP``), else ``guess``."""
        seen = getattr(self, "_epochs_seen", {}).get(tuple(spec[k] for k in self.EPOCH_GROUP))
        return sum(seen) / len(seen) if seen else guess

    def describe(self, record: dict) -> str:
        """One progress line for a finished run."""
        return (f"{record['run_id']}: test accuracy {record['test_accuracy']:.4f}, "
                f"{len(record['epoch_seconds'])} epochs, {sum(record['epoch_seconds']):.1f} s training")

    # --- shared ----------------------------------------------------------------------------
    @property
    def protocol(self) -> dict:
        return {k: v for k, v in self.settings.items() if k not in self.GRID_KEYS and k != "data_dir"}

    def seeds(self) -> range:
        return range(self.settings["seeds"])

    def data(self, dataset: str) -> Dataset:
        s = self.settings
        return study_data(dataset, s.get("val_split", 0.0), s.get("train_size"), s.get("test_size"),
                          s.get("data_dir"))


# ---------------------------------------------------------------------------------- data

@functools.lru_cache(maxsize=4)
def study_data(dataset: str, val_split: float, train_size: int | None, test_size: int | None,
               data_dir: str | None) -> Dataset:
    """The dataset with a fixed validation split, optionally shrunk to ``train_size`` samples
    (train and validation together, same proportions) and ``test_size`` test samples."""
    data = load_dataset(dataset, data_dir=data_dir, val_split=val_split, seed=SPLIT_SEED)
    if train_size is None and test_size is None:
        return data
    rng = np.random.default_rng(SPLIT_SEED)

    def shrink(x, y, fraction):
        if x is None or fraction >= 1.0:
            return x, y
        keep = np.sort(rng.permutation(len(y))[:max(1, round(fraction * len(y)))])
        return x[keep], y[keep]

    pool = len(data.y_train) + (0 if data.y_val is None else len(data.y_val))
    fraction = 1.0 if train_size is None else train_size / pool
    x_train, y_train = shrink(data.x_train, data.y_train, fraction)
    x_val, y_val = shrink(data.x_val, data.y_val, fraction)
    x_test, y_test = shrink(data.x_test, data.y_test, 1.0 if test_size is None else test_size / len(data.y_test))
    return Dataset(data.name, x_train, y_train, x_test, y_test, x_val, y_val, n_classes=data.n_classes)


# ------------------------------------------------------------------------------- records

def load_records(path, *, repair: bool = True, study: "Study | None" = None) -> list[dict]:
    """The records in a runs.jsonl file ([] if it does not exist), checked (``check_record``; with
    ``study``, also against that study), each run_id once.

    A last line cut short (the process was killed while writing it) is dropped and, with
    ``repair``, the file is rewritten without it, so that run is simply trained again.  Any other damage is an error that
    names the line: a record is never guessed at.
    """
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines = [(number, line) for number, line in enumerate(text.split("\n"), 1) if line.strip()]
    records, good, seen = [], [], {}
    for number, line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number < lines[-1][0]:  # damage before the last line is not a crash: refuse to guess
                raise ValueError(f"{path}, line {number}: not valid JSON; fix or remove that line") from None
            continue
        if not isinstance(record, dict):
            raise ValueError(f"{path}, line {number}: a JSON {type(record).__name__}, expected a run record (an object)")
        try:
            check_record(record, study)
        except ValueError as exc:
            raise ValueError(f"{path}, line {number}: {exc}; fix or remove that line") from None
        if record["run_id"] in seen:  # counted twice, it would weigh twice in the tables' means
            raise ValueError(f"{path}, line {number}: run {record['run_id']!r} is already at line "
                             f"{seen[record['run_id']]}; remove one of the two")
        seen[record["run_id"]] = number
        records.append(record)
        good.append(line)
    # Rewritten (atomically: this file holds every finished run) when a line was dropped, and when the
    # last line lacks its newline: the next record appended would otherwise be glued onto it.
    if repair and (len(good) < len(lines) or (text and not text.endswith("\n"))):
        write_text(path, "".join(line + "\n" for line in good))
    return records


def _append(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def check_record(record: dict, study: "Study | None" = None) -> None:
    """Raise ValueError unless ``record`` holds a run's keys (and ``study``'s), a test accuracy in
    [0, 1], and, with ``study``, that study's name."""
    keys = REQUIRED_KEYS + (study.RECORD_KEYS if study is not None else ())
    missing = [k for k in keys if k not in record]
    if missing:
        raise ValueError(f"run {record.get('run_id')!r} lacks the keys {missing}")
    if study is not None and record["study"] != study.name:
        raise ValueError(f"run {record['run_id']!r} belongs to the study {record['study']!r}, not {study.name!r}")
    accuracy = record["test_accuracy"]
    if not isinstance(accuracy, (int, float)) or isinstance(accuracy, bool) or not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"run {record['run_id']!r} has test_accuracy {accuracy!r}, expected a number in [0, 1]")


# -------------------------------------------------------------------------------- timing

def format_seconds(seconds: float) -> str:
    """'42 s', '7.5 min', '1 h 05 min'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{int(seconds // 3600)} h {round(seconds % 3600 / 60):02d} min"


@functools.lru_cache(maxsize=None)
def _step_seconds(sizes: tuple, model: str, activation: str, layer_kw_json: str, batch_size: int,
                  optimizer: str, backend: str) -> float:
    from ..backend import from_numpy
    from ..functional import softmax_cross_entropy
    from ..nn import mlp
    from ..optim import make_optimizer

    net = mlp(sizes, model, activation=activation, seed=0, backend=backend, **json.loads(layer_kw_json))
    opt = make_optimizer(optimizer, net, 1e-3)
    rng = np.random.default_rng(0)
    x = from_numpy(rng.random((batch_size, sizes[0]), dtype=np.float32), backend=net.backend)
    y = from_numpy(rng.integers(0, sizes[-1], batch_size), backend=net.backend)
    timings = []
    for _ in range(6):
        start = time.perf_counter()
        _, dlogits = softmax_cross_entropy(net.forward(x), y)
        net.backward(dlogits)
        opt.step()
        net.backend.synchronize()  # a GPU step is done when its kernels are, not when they are queued
        timings.append(time.perf_counter() - start)
    return float(np.median(timings[1:]))  # the first step pays for allocations


def step_seconds(sizes, model: str, *, activation: str = "relu", layer_kw: dict | None = None,
                 batch_size: int = 200, optimizer: str = "adamax") -> float:
    """Seconds for one training step of this network, measured now on this machine (cached)."""
    from ..backend import get_backend

    return _step_seconds(tuple(int(s) for s in sizes), model, activation,
                         json.dumps(layer_kw or {}, sort_keys=True), int(batch_size), optimizer, get_backend().name)


def estimate(study: Study, specs: list[dict]) -> tuple[float, float]:
    """(typical, worst-case) seconds to train ``specs`` one after the other."""
    typical = worst = 0.0
    for spec in specs:
        t, w = study.cost(spec, step_seconds)
        typical, worst = typical + t, worst + w
    return typical, worst


# ------------------------------------------------------------------------------- running

def _train_in_worker(study_class: type, settings: dict, spec: dict) -> dict:
    return study_class(settings).train(spec)  # the class, not a name: a user's own Study works too


def worker_blas_threads(jobs: int) -> dict:
    """The BLAS thread settings the runs get: with ``jobs`` workers, each its share of the cores
    (unless the environment already says); with one job, whatever the environment says."""
    if jobs == 1:
        return {k: os.environ[k] for k in BLAS_THREAD_VARS if k in os.environ}
    share = str(max(1, (os.cpu_count() or 1) // jobs))
    return {k: os.environ.get(k, share) for k in BLAS_THREAD_VARS}


@contextlib.contextmanager
def _environment(variables: dict):
    """Set ``variables`` in os.environ for the block, then restore what was there."""
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _exit_with_parent(parent: int) -> None:
    """A pool worker's initializer: end the worker when the process that started it is gone.

    A study killed outright (SIGKILL, the OOM killer) runs no cleanup: its workers would go on
    training the runs they hold, for minutes, with nobody to record them.  Each watches its parent
    instead, and exits as soon as it has been re-parented.
    """
    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _train_all(study: Study, todo: list[dict], jobs: int, client=None):
    """Yield (spec, record) as runs finish; ``jobs`` > 1 trains in that many processes, a Dask
    ``client`` on its cluster (``cluster.py``).

    A run that raises stops the study with ``RunFailed``, after the runs already under way have
    finished and been yielded: their records are kept.
    """
    if client is not None:
        from .cluster import train_on_cluster

        yield from train_on_cluster(client, study, todo, _train_in_worker)
        return
    if jobs == 1:
        for spec in todo:
            try:
                record = study.train(spec)
            except Exception as exc:
                raise RunFailed(spec["run_id"], exc) from exc
            yield spec, record
        return
    # spawn, not fork: each worker starts its own BLAS, which reads its thread count from the environment
    # once, when the worker starts. A spawning pool starts its workers at the first submits, so those
    # happen inside the block that sets the variables.
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                                  initializer=_exit_with_parent, initargs=(os.getpid(),))
    failed = None
    try:
        with _environment(worker_blas_threads(jobs)):
            futures = {pool.submit(_train_in_worker, type(study), study.settings, spec): spec for spec in todo}
        for future in concurrent.futures.as_completed(futures):
            if future.cancelled():
                continue
            if future.exception() is not None:
                if failed is None:
                    failed = RunFailed(futures[future]["run_id"], future.exception())
                    for other in futures:
                        other.cancel()  # the queued runs; those under way finish, and are kept
                continue
            yield futures[future], future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failed is not None:
        raise failed from failed.error


def _check_spawnable(study: Study, jobs: int, how: str | None = None) -> None:
    """With ``jobs`` > 1, each run trains in a new process, which imports the study's class by module:
    one defined in an interactive session, a notebook or a script read from stdin cannot be imported."""
    if (jobs == 1 and how is None) or type(study).__module__ != "__main__":
        return
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if not main_file or not Path(main_file).is_file():  # None in a notebook, '<stdin>' for `python -`
        raise ValueError(f"{how or f'--jobs {jobs}'} runs each run in a new process, which cannot import a Study class "
                         f"defined in an interactive session, a notebook or a script read from stdin "
                         f"({type(study).__name__}); define it in a .py file, or use jobs=1")


@contextlib.contextmanager
def _folder_lock(out_dir: Path):
    """Hold an exclusive lock on ``out_dir`` for the block, or raise a clear error if another invocation
    holds it: two would train the same missing runs and append them twice.

    The lock is the file ``.lock``, removed when the block ends (however it ends), so a finished study
    leaves only its results.  Removed while still locked: an invocation that opened it before then
    finds, once it holds the lock, that the path names another file (or none) and starts over.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; the duplicate check in load_records remains
        yield
        return
    path = out_dir / ".lock"
    while True:
        handle = open(path, "a")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise ValueError(f"another minispectral reproduce is training into {out_dir}; wait for it to "
                             "finish") from None
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(handle.fileno()).st_ino:
            break
        handle.close()  # the holder before us removed this file: lock the one the path names now
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # first, while locked; closing the file releases the lock
        handle.close()


def _load_average() -> float:
    """The 1-minute load average; NaN where the system has none (Windows)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def read_log(path: Path) -> dict:
    """The study's run log, run.json ({} before the first run), checked."""
    if not path.exists():
        return {}
    try:
        log = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a valid run log ({exc}); restore it (it records the settings the runs "
                         "in runs.jsonl were made with), or start afresh in another --out folder") from None
    if not isinstance(log, dict) or not isinstance(log.get("invocations", []), list):
        raise ValueError(f"{path} is not a valid run log: expected a JSON object with a list of invocations, "
                         f"got {type(log).__name__}")
    return log


def _check_protocol(study: Study, log: dict, out_dir: Path, records: list) -> None:
    """Runs on disk bind their folder to the settings they were made with, which run.json records."""
    if records and "protocol" not in log:  # those settings are unknown
        raise ValueError(f"{out_dir / 'runs.jsonl'} holds runs but {out_dir / 'run.json'}, which records their "
                         "settings, is missing; restore it, or start afresh in another --out folder")
    previous = log.get("protocol")
    # Only runs on disk bind the folder to their settings: an invocation that trained nothing binds nothing.
    if records and previous is not None and previous != study.protocol:
        changed = sorted(k for k in set(previous) | set(study.protocol) if previous.get(k) != study.protocol.get(k))
        raise ValueError(f"{out_dir} holds runs made with other settings ({', '.join(changed)} differ); "
                         f"rerun with the same options or choose another --out")


def run_study(study: Study, out_dir, *, jobs: int = 1, plan_only: bool = False, report_only: bool = False,
              echo=print, scheduler: str | None = None) -> int:
    """Train the runs of ``study`` that ``out_dir`` lacks, then write its table and figures.

    ``scheduler``: the address of a Dask scheduler whose workers train the runs instead (``cluster.py``);
    the records still come back here.  Returns the number of runs trained by this call.
    """
    out_dir = Path(out_dir)
    if scheduler is not None and jobs != 1:
        raise ValueError(f"give --jobs ({jobs}) or --scheduler, not both: the cluster's workers decide how many "
                         "runs train at once")
    if plan_only or report_only:  # they train nothing
        return _run_study(study, out_dir, jobs, plan_only, report_only, echo)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        # Held from before the runs on disk are read: a second invocation would train the same missing runs.
        with _folder_lock(out_dir), _cluster(scheduler) as client:
            return _run_study(study, out_dir, jobs, plan_only, report_only, echo, client, scheduler)
    finally:
        if created:  # a start that failed before writing anything (no data, no GPU) leaves no empty folder
            with contextlib.suppress(OSError):
                out_dir.rmdir()  # only if empty


@contextlib.contextmanager
def _cluster(scheduler: str | None):
    """A Dask client of ``scheduler`` for the block (None without one)."""
    if scheduler is None:
        yield None
        return
    from .cluster import connect

    client = connect(scheduler)
    try:
        yield client
    finally:
        client.close()


def _run_study(study: Study, out_dir: Path, jobs: int, plan_only: bool, report_only: bool, echo, client=None,
               scheduler: str | None = None) -> int:
    runs_path, log_path = out_dir / "runs.jsonl", out_dir / "run.json"
    log = read_log(log_path)
    records = load_records(runs_path, repair=not (plan_only or report_only), study=study)  # those two write no runs
    _check_protocol(study, log, out_dir, records)
    done = {r["run_id"] for r in records}
    grid = study.runs()
    missing_runs = [s for s in grid if s["run_id"] not in done]
    todo = [] if report_only else missing_runs
    action = (f"{len(missing_runs)} missing (--report-only trains none)" if report_only else
              f"{len(todo)} to train")
    echo(f"{study.name}: {len(grid)} run{'s' if len(grid) != 1 else ''} in the grid, {sum(s['run_id'] in done for s in grid)} already in "
         f"{runs_path}, {action}")
    if todo:
        study.observe(records)
        typical, worst = estimate(study, todo)
        if client is not None:
            from .cluster import worker_threads

            cores, where = worker_threads(client), f"on the cluster at {scheduler} (step times of this machine)"
        else:
            cores, where = min(jobs, os.cpu_count() or 1), f"with --jobs {jobs}"
        echo(f"estimated wall time {where}: about {format_seconds(typical / cores)}, at most "
             f"{format_seconds(worst / cores)} (if no run stops early); step times measured now, "
             f"load average {_load_average():.1f} on {os.cpu_count()} cores; training steps only: loading the "
             f"data, building the models and writing the report add seconds per run, which only short "
             f"studies (--quick) notice")
    if plan_only:
        return 0
    trained = 0
    if todo:
        _check_spawnable(study, jobs, "--scheduler" if client is not None else None)  # before the log: nothing has started
        load_at_start = _load_average()  # other work on the machine slows the runs down
        invocation = {"command": study.command(out_dir, jobs, scheduler), "argv": shlex.join(sys.argv), "jobs": jobs,
                      "scheduler": scheduler,
                      "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                      "wall_seconds": 0.0, "runs_trained": 0, "finished": False, "machine": machine_info(),
                      "blas_threads": worker_blas_threads(jobs) if client is None else "set by the cluster's workers",
                      "load_average_at_start": None if math.isnan(load_at_start) else round(load_at_start, 2)}
        log = {"study": study.name, "protocol": study.protocol, "invocations": log.get("invocations", []) + [invocation]}
        # Written before the first run: an invocation killed outright (no finally runs then) leaves the
        # protocol of the runs it appended, and the next one resumes them.
        _write_log(out_dir, log)
        start = time.perf_counter()
        try:
            for spec, record in _train_all(study, todo, jobs, client):
                check_record(record, study)
                _append(runs_path, record)
                records.append(record)
                trained += 1
                # the log follows each run: an invocation killed outright still counts the runs it appended
                invocation.update(wall_seconds=round(time.perf_counter() - start, 3), runs_trained=trained)
                _write_log(out_dir, log)
                echo(f"[{trained}/{len(todo)}] {study.describe(record)}")
        finally:
            invocation.update(wall_seconds=round(time.perf_counter() - start, 3), runs_trained=trained,
                              finished=trained == len(todo))
            _write_log(out_dir, log)
    if not records:
        echo("no runs yet: nothing to report")
        return trained
    present = {r["run_id"] for r in records}
    missing = [s for s in grid if s["run_id"] not in present]
    paths = study.report(records, out_dir, missing)
    echo("wrote " + ", ".join(str(p) for p in paths))
    if missing:
        echo(f"{len(missing)} of {len(grid)} runs of the grid are missing; rerun the same command to add them")
    return trained


def _write_log(out_dir: Path, log: dict) -> None:
    write_json(out_dir / "run.json", log)
    write_run_md(out_dir, log)


def write_run_md(out_dir: Path, log: dict) -> Path:
    """RUN.md: the run log as Markdown (what ran, where, for how long)."""
    lines = [f"# How `{log['study']}` was run", "",
             "Each invocation trained the runs missing from `runs.jsonl` (runs resume), so the whole study",
             "is the union of the invocations below.", ""]
    total = sum(i["wall_seconds"] for i in log["invocations"])
    trained = sum(i["runs_trained"] for i in log["invocations"])
    lines += [f"Total: {trained} runs trained in {format_seconds(total)} of wall time.", ""]
    for n, inv in enumerate(log["invocations"], 1):
        m = inv["machine"]
        lines += [f"## Invocation {n}", "", "```", inv["command"], "```", "",
                  f"* started {inv['started']}, wall time {format_seconds(inv['wall_seconds'])} "
                  f"({inv['wall_seconds']} s), {inv['runs_trained']} runs trained"
                  f"{'' if inv['finished'] else ' (unfinished: still running, or interrupted)'}, "
                  f"{'on the Dask cluster at ' + inv['scheduler'] if inv.get('scheduler') else '--jobs ' + str(inv['jobs'])}",
                  f"* machine: {m['processor']}, {m['cpus']} CPUs, {m['system']}; load average "
                  f"{inv.get('load_average_at_start', '?')} at the start (other work slows the runs down); "
                  f"BLAS threads: {inv.get('blas_threads') or 'library default'}",
                  f"* versions: Python {m['python']}, NumPy {m['numpy']}, minispectral {m['minispectral']}"
                  f"{', commit ' + m['commit'] if m.get('commit') else ''}", ""]
    lines += ["## Protocol", "", "```json", json.dumps(log["protocol"], indent=1), "```", ""]
    return write_text(out_dir / "RUN.md", "\n".join(lines))


# ------------------------------------------------------------------------------- reports

def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def missing_note(missing: list[dict], keys: tuple) -> str:
    """A Markdown paragraph naming the runs of the grid that are not on disk yet."""
    if not missing:
        return "All runs of the grid are present."
    groups: dict = {}
    for spec in missing:
        groups.setdefault(tuple(spec[k] for k in keys), []).append(spec["seed"])
    items = [", ".join(f"{k}={v}" for k, v in zip(keys, group)) + f" (seeds {', '.join(map(str, seeds))})"
             for group, seeds in groups.items()]
    shown = items[:30]
    more = f"; and {len(items) - len(shown)} more groups" if len(items) > len(shown) else ""
    return f"**Incomplete: {len(missing)} runs are missing:** " + "; ".join(shown) + more + "."


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


INPUTS = {"digits": 64, "cifar10": 3072}  # and 784 for the MNISTs


def network_label(datasets, hidden) -> str:
    """'784 → 500 → 10': a report's network for its datasets (64 inputs for the digits, 784 for the MNISTs,
    3072 for CIFAR-10)."""
    inputs = " or ".join(sorted({str(INPUTS.get(d, 784)) for d in datasets}, key=int, reverse=True))
    return " → ".join([inputs, *map(str, hidden), "10"])


def fmt_acc(mean: float, std: float, n: int) -> str:
    return f"{mean:.4f} ± {std:.4f}" if n > 1 else f"{mean:.4f}"
