"""The lessons: each runs top to bottom as a notebook, its .py and .ipynb agree, and so do its solutions.

Lessons are discovered, not listed: every ``lessons/NN_*.py`` is a lesson (paired through jupytext
with ``lessons/NN_*.ipynb``) and every ``lessons/solutions/*.py`` a solutions script. All of them run
in FAST mode (``MINISPECTRAL_FAST=1``), which shrinks datasets and epochs.
"""
import json
import os
import re
import runpy
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from conftest import skip_without_data
from minispectral.datasets import REGISTRY, DatasetError, fetch

REPO = Path(__file__).resolve().parents[1]
LESSONS_DIR = REPO / "lessons"
# numbered lessons (01_*.py, ...) and appendices (A_*.py, ...)
LESSONS = sorted([*LESSONS_DIR.glob("[0-9][0-9]_*.py"), *LESSONS_DIR.glob("[A-Z]_*.py")])
SOLUTIONS = sorted([*(LESSONS_DIR / "solutions").glob("[0-9][0-9]_*.py"),
                    *(LESSONS_DIR / "solutions").glob("[A-Z]_*.py")])
MAX_NOTEBOOK_BYTES = 500_000
REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[ \t]*\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.M | re.S)


def solution_functions(lesson: Path) -> list[str]:
    """The functions whose bodies hold the lesson's solution regions (its blanks), in order, one per region."""
    text = lesson.read_text(encoding="utf-8")
    names = []
    for match in REGION.finditer(text):
        indent = len(match.group(1))
        defs = [d for d in re.finditer(r"^([ \t]*)def (\w+)\(", text[:match.start()], re.M)
                if len(d.group(1)) < indent]
        assert defs, f"{lesson.name}: a solution region outside any function, at offset {match.start()}"
        names.append(defs[-1].group(2))
    return names


def _ids(paths):
    return [p.stem for p in paths]


def _missing_mnist() -> str | None:
    """Why MNIST cannot be read offline (None when every file is on disk and verified)."""
    for filename in REGISTRY["mnist"]["files"]:
        try:
            fetch("mnist", filename, download=False)
        except DatasetError as exc:
            return str(exc).splitlines()[0]
    return None


def _skip_without_mnist(script: Path) -> None:
    """Skip a script that trains on MNIST when the files are not on disk (CI has them: ../shared/data)."""
    text = script.read_text()
    if "load_mnist(" in text or 'load_dataset("mnist"' in text:
        missing = _missing_mnist()
        if missing:
            skip_without_data(f"{script.name} trains on MNIST, which is not on this machine ({missing}); "
                              "set MINISPECTRAL_DATA to a directory holding mnist/")


@pytest.fixture
def fast_env(monkeypatch):
    """FAST mode, a headless matplotlib (plots are drawn but not kept), and the repository importable
    from any working directory.

    The notebook kernel is a subprocess started with a copy of os.environ, and it runs in lessons/,
    so the repository root goes on PYTHONPATH and a relative MINISPECTRAL_DATA becomes absolute.
    """
    monkeypatch.setenv("MINISPECTRAL_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # tests never reach the internet: a download inside a lesson would fail at once on a closed port
    monkeypatch.setenv("MINISPECTRAL_MIRROR", "http://127.0.0.1:9/{dataset}/")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    if os.environ.get("MINISPECTRAL_DATA"):
        monkeypatch.setenv("MINISPECTRAL_DATA", str(Path(os.environ["MINISPECTRAL_DATA"]).resolve()))


def test_lessons_are_found():
    assert LESSONS, f"no lessons found in {LESSONS_DIR}"
    assert (LESSONS_DIR / "jupytext.toml").is_file()


AUDIT_MARK = "EXERCISE-AUDIT:"


@pytest.mark.parametrize("lesson", LESSONS, ids=_ids(LESSONS))
def test_lesson_runs_as_notebook(lesson, fast_env):
    """Every cell runs without error (a failed assert in the lesson fails the test), and then, in the same
    kernel, every exercise check of the lesson passes on the lesson's own solution and fails on wrong
    answers made from it (``minispectral.exercises.audit``): no check is vacuous."""
    _skip_without_mnist(lesson)
    notebook = jupytext.read(lesson)
    number = lesson.name.split("_")[0]
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import json\nfrom minispectral.exercises import audit\n"
        f"print({AUDIT_MARK!r} + json.dumps(audit({number!r}, globals())))"))
    client = NotebookClient(notebook, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(LESSONS_DIR)}})
    client.execute()
    text = "".join(o.get("text", "") for o in notebook.cells[-1].outputs if o.output_type == "stream")
    records = json.loads(text.split(AUDIT_MARK, 1)[1])
    assert [r for r in records if not r["ok"]] == []
    blanks = solution_functions(lesson)
    assert {r["function"] for r in records} == set(blanks), "each blank has a check, and each check a blank"
    for function in blanks:  # the solution passes, and at least one wrong answer per blank fails
        cases = {r["case"] for r in records if r["function"] == function}
        assert "solution" in cases and len(cases) >= 2, f"{function}: only {sorted(cases)} were tried"


@pytest.mark.parametrize("lesson", LESSONS, ids=_ids(LESSONS))
def test_pair_in_sync(lesson):
    """The committed .ipynb holds the same cells, in the same order, as the reviewed .py."""
    notebook_path = lesson.with_suffix(".ipynb")
    assert notebook_path.is_file(), f"{notebook_path.name} is missing: run jupytext to pair {lesson.name}"

    def cells(nb):
        return [(c.cell_type, c.source.strip()) for c in nb.cells if c.cell_type in ("code", "markdown")]

    from_py, from_ipynb = cells(jupytext.read(lesson)), cells(jupytext.read(notebook_path))
    assert len(from_py) == len(from_ipynb), f"{lesson.name}: {len(from_py)} cells, notebook has {len(from_ipynb)}"
    for i, (a, b) in enumerate(zip(from_py, from_ipynb)):
        assert a == b, f"{lesson.name}: cell {i} differs from the notebook's\n--- py:\n{a[1]}\n--- ipynb:\n{b[1]}"


@pytest.mark.parametrize("lesson", LESSONS, ids=_ids(LESSONS))
def test_notebook_committed_with_outputs(lesson):
    """Readers see the results without running anything: every code cell ran, no errors, at least one plot."""
    path = lesson.with_suffix(".ipynb")
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES, f"{path.name} is {path.stat().st_size:,} bytes"
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), f"{path.name} has cells that were never run"
    outputs = [out for c in code for out in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"], f"{path.name} was saved with an error"
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name} has no plot in its outputs"


@pytest.mark.parametrize("lesson", LESSONS, ids=_ids(LESSONS))
def test_lesson_has_solutions(lesson):
    number = lesson.name.split("_")[0]
    assert [s for s in SOLUTIONS if s.name.split("_")[0] == number], f"no lessons/solutions/{number}_*.py for {lesson.name}"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_solutions_run(solution, fast_env):
    """Each solutions script asserts its own answers."""
    _skip_without_mnist(solution)
    runpy.run_path(str(solution), run_name="__main__")


def test_every_paper_md_reference_names_a_section_of_the_shipped_digest():
    """The code, lessons, results and README cite "paper.md §n"; docs/paper.md must hold each §n."""
    import re

    sections = set(re.findall(r"^## (\d+)\.", (REPO / "docs" / "paper.md").read_text(encoding="utf-8"), re.M))
    cited = set()
    for path in [*REPO.glob("minispectral/**/*.py"), *LESSONS, *SOLUTIONS, *REPO.glob("results/**/*.md"),
                 REPO / "README.md"]:
        for refs in re.findall(r"paper\.md,? ((?:§\d+[ ,–and-]*)+)", path.read_text(encoding="utf-8")):
            cited |= {(n, path.name) for n in re.findall(r"§(\d+)", refs)}
    assert cited, "no reference found: the pattern is out of date"
    assert sorted((n, name) for n, name in cited if n not in sections) == []
