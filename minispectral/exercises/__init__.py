"""Checks for the lessons' exercises: the learner writes a function, a check says at once whether it is right.

Each blank of a lesson (``lessons/NN_*.py``, between ``### BEGIN SOLUTION`` and ``### END SOLUTION``) is
the body of a function.  The cell after it calls that lesson's check, for example
``check_dense_backward(my_dense_backward)`` from ``minispectral.exercises.lesson_02``.  A check feeds the
learner's function fixed float64 inputs, compares every quantity it returns with a reference (the
library's kernel, or float64 central differences), prints one line per quantity, and raises
``ExerciseFailed`` naming the wrong ones:

    quantity            shape         max elementwise rel. err   norm-wise rel. err   verdict
    dx                  (4, 5)        1.1e-16                    6.9e-17              pass
    dW                  (3, 5)        1.0e+00                    1.0e+00              FAIL

Two errors, because one can hide what the other shows (CS231n's advice, made explicit):

* the **norm-wise** relative error  ‖a − e‖ / ‖e‖  summarises the whole array, and a single wrong entry
  among thousands moves it by only ~1/√n of that entry's error;
* the **element-wise** maximum  max_i |a_i − e_i| / max(|a_i| + |e_i|, floor)  catches that one entry.  The
  floor (``FLOOR`` times the largest |e_i|) keeps entries that should be zero, and come out as round-off
  (1e-17 against 0), from reading as 100 % wrong.

A quantity passes when both errors are at most the check's tolerance (1e-7 unless the check says
otherwise: the references are float64, so a right answer agrees to ~1e-15).

Checks register themselves with ``@exercise(lesson, function)``, so the test suite can prove that none
of them is vacuous: each must pass on the worked lesson's solution and fail on wrong answers made from it
(one returned quantity zeroed, transposed or reversed, or one entry nudged); see ``wrong_answers``.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

DEFAULT_TOL = 1e-7
FLOOR = 1e-6  # relative to the largest |expected|: below it, a difference is round-off of a near-zero entry


class ExerciseFailed(AssertionError):
    """A check found a wrong quantity; the message is the check's table."""


def relative_errors(got, expected) -> tuple[float, float]:
    """(max element-wise, norm-wise) relative error of ``got`` against ``expected``, in float64.

    element-wise: max_i |got_i − expected_i| / max(|got_i| + |expected_i|, FLOOR · max_j |expected_j|)
    norm-wise:    ‖got − expected‖ / max(‖expected‖, tiny)
    Both are 0 for two all-zero arrays.
    """
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        return float("inf"), float("inf")
    diff = np.abs(got - expected)
    if not diff.size:
        return 0.0, 0.0
    floor = FLOOR * float(np.max(np.abs(expected)))
    scale = np.maximum(np.abs(got) + np.abs(expected), max(floor, np.finfo(np.float64).tiny))
    elementwise = float(np.max(diff / scale))
    normwise = float(np.linalg.norm(diff) / max(float(np.linalg.norm(expected)), np.finfo(np.float64).tiny))
    return elementwise, normwise


@dataclass
class Row:
    name: str
    shape: str
    elementwise: float
    normwise: float
    passed: bool
    note: str = ""


class Verdict:
    """The rows of one check; ``str()`` is the table the learner sees, ``passed`` the verdict."""

    def __init__(self, title: str, rows: list[Row], tol: float):
        self.title, self.rows, self.tol = title, rows, tol

    @property
    def passed(self) -> bool:
        return bool(self.rows) and all(r.passed for r in self.rows)

    def __str__(self) -> str:
        lines = [self.title,
                 f"  {'quantity':<20}{'shape':<14}{'max elementwise rel. err':<27}{'norm-wise rel. err':<21}verdict"]
        for r in self.rows:
            errors = (f"{r.elementwise:<27.1e}{r.normwise:<21.1e}" if not r.note else f"{r.note:<48}")
            lines.append(f"  {r.name:<19} {r.shape:<14}{errors}{'pass' if r.passed else 'FAIL'}")
        wrong = [r.name for r in self.rows if not r.passed]
        lines.append(f"  all {len(self.rows)} pass (tolerance {self.tol:.0e})" if not wrong else
                     f"  wrong: {', '.join(wrong)} (tolerance {self.tol:.0e})")
        return "\n".join(lines)

    def __repr__(self) -> str:  # short: a check cell prints its table once, then shows this as its value
        return f"<Verdict: {'pass' if self.passed else 'FAIL'}, {len(self.rows)} quantities>"


def _row(name: str, got, expected, tol: float) -> Row:
    expected = np.asarray(expected)
    if got is None:
        return Row(name, str(tuple(expected.shape)), np.inf, np.inf, False, "got None")
    try:
        got = np.asarray(got)
    except Exception as exc:  # a CuPy array, a list of arrays: say what came back
        return Row(name, "?", np.inf, np.inf, False, f"not an array: {type(got).__name__} ({exc})")
    if got.shape != expected.shape:
        return Row(name, str(tuple(got.shape)), np.inf, np.inf, False, f"expected shape {tuple(expected.shape)}")
    if got.size and not np.all(np.isfinite(got.astype(np.float64))):
        return Row(name, str(tuple(got.shape)), np.inf, np.inf, False, "got nan or inf")
    elementwise, normwise = relative_errors(got, expected)
    return Row(name, str(tuple(got.shape)), elementwise, normwise, elementwise <= tol and normwise <= tol)


def compare(title: str, quantities: dict, tol: float = DEFAULT_TOL) -> Verdict:
    """Compare ``{name: (got, expected)}``, print the table, and raise ``ExerciseFailed`` if any is wrong."""
    verdict = Verdict(title, [_row(name, got, expected, tol) for name, (got, expected) in quantities.items()], tol)
    print(verdict)
    if not verdict.passed:
        raise ExerciseFailed(str(verdict))
    return verdict


def as_tuple(result, count: int, what: str) -> tuple:
    """The learner's return value as a tuple of ``count`` items, or ExerciseFailed saying what came back."""
    items = result if isinstance(result, tuple) else (result,)
    if len(items) != count:
        raise ExerciseFailed(f"{what} should return {count} value{'s' * (count > 1)}, got {len(items)}: "
                             f"{type(result).__name__}")
    return items


def stacked(values, shape) -> object:
    """The learner's per-step results as one (steps, *shape) array for ``compare``, or the first of them that
    is not an array of ``shape`` (``compare`` then names its shape, or that it got None)."""
    arrays = []
    for value in values:
        if value is None:
            return None
        try:
            a = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return value
        if a.shape != shape:
            return a
        arrays.append(a)
    return np.stack(arrays)


CHANGED_NOTE = ("\n  rows 'given ...': inputs your function wrote into; it must return new arrays and leave its inputs "
                "as they were (later cells pass it shared arrays)")


def changed_in_place(after: dict, given: dict) -> dict:
    """``compare`` rows for the inputs the learner's function wrote into, ``{"given m": (its values after
    the calls, the values it was given)}`` stacked over the calls; empty when it wrote into none."""
    rows = {}
    for name in after:
        now, before = np.stack(after[name]), np.stack(given[name])
        if not np.array_equal(now, before):
            rows[f"given {name}"] = (now, before)
    return rows


# ---------------------------------------------------------------------------------------------------
# The registry, and the wrong answers the tests feed to every check

@dataclass(frozen=True)
class Exercise:
    lesson: str          # "02"
    function: str        # the learner's function the check takes, "my_dense_backward"
    check: Callable      # check(fn) -> Verdict, raising ExerciseFailed when fn is wrong


EXERCISES: dict[str, dict[str, Exercise]] = {}


def exercise(lesson: str, function: str):
    """Register a check of lesson ``lesson`` that takes the learner's ``function``."""
    def register(check):
        EXERCISES.setdefault(lesson, {})[function] = Exercise(lesson, function, check)
        return check
    return register


def exercises_of(lesson: str) -> dict[str, Exercise]:
    """The checks of one lesson (``"02"``), importing ``minispectral.exercises.lesson_02``."""
    try:
        importlib.import_module(f"{__name__}.lesson_{lesson}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.lesson_{lesson}":
            raise
    return EXERCISES.get(lesson, {})


def _leaves(result) -> list[tuple]:
    """Paths to the array-like leaves of a returned value (an array, a number, or tuples/lists/dicts of them)."""
    if isinstance(result, (tuple, list)):
        return [((i,) + path, leaf) for i, item in enumerate(result) for path, leaf in _leaves(item)]
    if isinstance(result, dict):
        return [((k,) + path, leaf) for k, item in result.items() for path, leaf in _leaves(item)]
    if isinstance(result, (np.ndarray, float, int, np.floating)) and not isinstance(result, bool):
        return [((), result)]
    return []


def _replace(result, path: tuple, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(result, dict):
        return {**result, head: _replace(result[head], rest, value)}
    items = list(result)
    items[head] = _replace(items[head], rest, value)
    return type(result)(items) if isinstance(result, tuple) else items


def _nudge(value):
    wrong = np.array(value, copy=True, order="C")  # C order: reshape(-1) is then a view, and the nudge lands
    flat = wrong.reshape(-1)
    i = int(np.argmax(np.abs(flat)))
    if np.issubdtype(wrong.dtype, np.integer):
        flat[i] += 1  # an index or a count: 0.1 % would round back to the same integer
    else:
        flat[i] *= 1 + 1e-3  # one entry of many: a norm alone would barely see it
    return wrong


def _mistakes(leaf):
    """(label, spoil) pairs for one returned quantity, where ``spoil(value)`` differs from it where it counts."""
    a = np.asarray(leaf)
    if not a.size or not np.any(a):
        return
    yield "zeros", np.zeros_like
    if a.ndim == 2 and a.shape[0] != a.shape[1]:
        yield "transposed", lambda value: np.array(value).T.copy()
    elif a.ndim >= 1 and not np.allclose(a, np.flip(a, axis=0)):
        yield "reversed", lambda value: np.flip(np.asarray(value), axis=0).copy()
    yield "one entry off", _nudge


def wrong_answers(solution: Callable):
    """Wrong versions of a correct function: yields (label, wrong_fn).

    The first is the solution itself ("solution", which records what it returns); each of the others calls
    ``solution`` and spoils one returned quantity (every quantity in turn): zeroed, transposed (a non-square
    matrix) or reversed, or its largest entry nudged by 0.1 %.  A check that lets any of them through is
    vacuous for that quantity.
    """
    returned: list = []

    def recording(*args, **kwargs):
        result = solution(*args, **kwargs)
        returned.append(result)
        return result

    def spoiled(path, spoil):
        def wrong(*args, **kwargs):
            result = solution(*args, **kwargs)
            leaf = dict(_leaves(result)).get(path)
            if leaf is None:
                return result
            value = spoil(leaf)
            return _replace(result, path, value if np.ndim(value) else type(leaf)(value))
        return wrong

    yield "solution", recording
    if not returned:
        return
    for path, leaf in _leaves(returned[0]):
        where = "".join(f"[{p!r}]" for p in path) or "result"
        for label, spoil in _mistakes(leaf):
            yield f"{where} {label}", spoiled(path, spoil)


def audit(lesson: str, namespace: dict) -> list[dict]:
    """Run each check of ``lesson`` on the solution in ``namespace`` (it must pass) and on wrong answers made
    from it (each must fail).  Returns one dict per run, for the tests; prints nothing of its own."""
    import contextlib
    import io

    records = []
    for name, ex in exercises_of(lesson).items():
        solution = namespace.get(name)
        if solution is None:
            records.append({"function": name, "case": "solution", "ok": False,
                            "why": f"{name} is not defined by the lesson"})
            continue
        for label, fn in wrong_answers(solution):
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    ex.check(fn)
                    failed, why = False, ""
                except ExerciseFailed as exc:
                    failed, why = True, str(exc).splitlines()[-1]
            records.append({"function": name, "case": label, "ok": failed == (label != "solution"),
                            "why": why})
    return records
