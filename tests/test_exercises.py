"""The exercise editions and their checks: generated from the worked lessons, never stale, each stopping at
its first blank; and the checks themselves, which must tell a wrong answer from a right one."""
import importlib.util
import os
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from minispectral.exercises import ExerciseFailed, compare, relative_errors, wrong_answers
from test_lessons import LESSONS_DIR, _skip_without_mnist, fast_env, solution_functions  # noqa: F401

spec = importlib.util.spec_from_file_location("make_exercises", LESSONS_DIR / "make_exercises.py")
make_exercises = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_exercises)

WORKED = make_exercises.worked_lessons()
WITH_BLANKS = [p for p in WORKED if solution_functions(p)]


def test_one_wrong_entry_shows_in_the_elementwise_error_not_the_norm():
    expected = np.ones(10_000)
    got = expected.copy()
    got[123] = 1.5
    elementwise, normwise = relative_errors(got, expected)
    assert elementwise == pytest.approx(0.5 / 2.5)
    assert normwise == pytest.approx(0.5 / 100)  # 0.5 / sqrt(10000): a norm hides the entry


def test_round_off_on_an_entry_that_should_be_zero_is_not_an_error():
    expected = np.array([1.0, 0.0, -2.0])
    assert relative_errors(expected + np.array([0, 1e-17, 0]), expected)[0] < 1e-10


def test_compare_names_each_wrong_quantity_and_shape():
    a = np.arange(6.0).reshape(2, 3)
    with pytest.raises(ExerciseFailed) as info:
        compare("t", {"dx": (a, a), "dW": (a.T, a), "db": (None, a[0])})
    message = str(info.value)
    assert "wrong: dW, db" in message and "expected shape (2, 3)" in message and "got None" in message
    assert "dx" in message and compare("t", {"dx": (a, a)}).passed


def test_non_finite_answers_fail_and_say_so():
    with pytest.raises(ExerciseFailed, match="got nan or inf"):
        compare("t", {"x": (np.array([np.nan, 1.0]), np.array([1.0, 1.0]))})
    assert relative_errors(np.array([np.inf]), np.array([np.inf])) == (np.inf, np.inf)  # no inf - inf warning


def test_wrong_answers_spoil_every_returned_quantity():
    def solution(a):
        return a * 2, {"s": a.sum()}

    x = np.arange(1.0, 7.0).reshape(2, 3)
    generator = wrong_answers(solution)
    label, recording = next(generator)
    assert label == "solution"
    recording(x)  # the solution's run decides what can be spoiled
    spoiled = {label: fn(x) for label, fn in generator}
    assert {"[0] zeros", "[0] transposed", "[0] one entry off", "[1]['s'] zeros", "[1]['s'] one entry off"} \
        <= set(spoiled), sorted(spoiled)
    assert spoiled["[0] transposed"][0].shape == (3, 2)
    assert spoiled["[1]['s'] zeros"][1]["s"] == 0.0


def test_one_entry_off_lands_on_any_memory_order_and_on_integers():
    from minispectral.exercises import _nudge

    a = np.arange(1.0, 7.0).reshape(2, 3).T  # Fortran order: a naive reshape(-1) copies, and the nudge is lost
    assert np.sum(_nudge(a) != a) == 1
    idx = np.array([3, 1, 2])
    assert np.sum(_nudge(idx) != idx) == 1


def test_exercise_editions_are_up_to_date():
    """Regenerate with: python lessons/make_exercises.py"""
    assert make_exercises.stale() == []


def test_stub_is_nbgraders_at_the_markers_indentation():
    source = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    y = x + 1\n    ### END SOLUTION\n    return y\n"
    stripped, n = make_exercises.strip_solutions(source)
    assert n == 1 and "x + 1" not in stripped
    assert "    # YOUR CODE HERE\n    raise NotImplementedError()\n    return y" in stripped
    with pytest.raises(ValueError, match="unbalanced"):
        make_exercises.strip_solutions("### BEGIN SOLUTION\nx = 1\n")


def test_exercise_editions_hold_no_solution_and_no_output():
    for lesson in WORKED:
        notebook = nbformat.read(make_exercises.edition_path(lesson), as_version=4)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert not any("BEGIN SOLUTION" in c.source or c.outputs or c.execution_count for c in code)
        stubs = sum(c.source.count("raise NotImplementedError()") for c in code)
        assert stubs == len(solution_functions(lesson)), lesson.name


@pytest.mark.parametrize("lesson", WITH_BLANKS, ids=[p.stem for p in WITH_BLANKS])
def test_exercise_edition_stops_at_its_first_blank(lesson, fast_env):
    """Run top to bottom, an exercise edition runs up to its first blank and stops there with
    NotImplementedError, raised by the cell that calls the first unfilled function (its check)."""
    _skip_without_mnist(lesson)
    path = make_exercises.edition_path(lesson)
    notebook = nbformat.read(path, as_version=4)
    stubs = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and "raise NotImplementedError()" in c.source]
    client = NotebookClient(notebook, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(LESSONS_DIR / "exercises")}})
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    assert info.value.ename == "NotImplementedError", info.value
    failed = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"
              and any(o.output_type == "error" for o in c.get("outputs", []))]
    assert len(failed) == 1
    assert stubs[0] <= failed[0] < (stubs[1] if len(stubs) > 1 else len(notebook.cells)), \
        f"stopped at cell {failed[0]}, blanks are in cells {stubs}"


@pytest.mark.parametrize("lesson", WITH_BLANKS, ids=[p.stem for p in WITH_BLANKS])
def test_every_blank_is_checked_in_its_lesson(lesson):
    """Each blank's function is handed to a check in a later cell of the worked lesson."""
    text = lesson.read_text(encoding="utf-8")
    for name in solution_functions(lesson):
        assert re.search(rf"check_\w+\((?:[^()]*, )?{name}\b", text), f"{lesson.name}: no check is called on {name}"


def test_the_course_has_blanks_in_every_numbered_lesson():
    """Issue 17's coverage: at least 30 blanks over at least 11 lessons, and no numbered lesson without one
    (the key steps: dense, activations, softmax, the MLP, the optimizers, W, the eigenvalue gradients, ds and
    dR, the sparse backward, pruning, a portable kernel, the capstone)."""
    counts = {lesson.stem: len(solution_functions(lesson)) for lesson in WORKED}
    assert sum(counts.values()) >= 30 and sum(1 for n in counts.values() if n) >= 11, counts
    assert [stem for stem, n in counts.items() if not n] == []
