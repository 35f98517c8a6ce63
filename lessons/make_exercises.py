"""Generate the exercise editions, ``lessons/exercises/NN_*.ipynb``, from the worked lessons.

    python lessons/make_exercises.py            # write every exercise edition
    python lessons/make_exercises.py --check    # exit 1, naming them, if any is stale or missing

In a worked lesson (``lessons/NN_*.py``, the reviewed source) the code the learner should write stands
between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines inside a code cell: nbgrader's markers.
Each region becomes nbgrader's stub, at the marker's indentation,

    # YOUR CODE HERE
    raise NotImplementedError()

and the edition is written without outputs, with a first cell that says how to work through it.

Why a short script on jupytext, rather than nbgrader's ``ClearSolutions`` preprocessor: the lessons are
already paired through jupytext, the transformation is these markers and this stub and nothing else, and
nbgrader would bring a Jupyter server extension, a database layer and a course directory layout into
the ``lessons`` extra to do it.  The markers and the stub are nbgrader's, so an instructor who grades with
nbgrader can run ``ClearSolutions`` on the worked lessons and get the same cells.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
OUT = HERE / "exercises"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
REGION = re.compile(rf"^([ \t]*){re.escape(BEGIN)}[ \t]*\n.*?^[ \t]*{re.escape(END)}[ \t]*$", re.M | re.S)


def worked_lessons() -> list[Path]:
    """Every numbered worked lesson (the appendices have no blanks)."""
    return sorted(HERE.glob("[0-9][0-9]_*.py"))


def strip_solutions(source: str) -> tuple[str, int]:
    """``source`` with each solution region replaced by the stub, and the number of regions."""
    unmatched = source.count(BEGIN) - len(REGION.findall(source))
    if unmatched or source.count(END) != source.count(BEGIN):
        raise ValueError(f"unbalanced solution markers: {source.count(BEGIN)} {BEGIN!r}, "
                         f"{source.count(END)} {END!r}, {unmatched} not closed in order")
    return REGION.subn(lambda m: "\n".join(m.group(1) + line for line in STUB), source)


def banner(lesson: Path, blanks: int) -> str:
    return (f"**Exercise edition** of [lesson {lesson.name.split('_')[0]}](../{lesson.stem}.ipynb), "
            f"with {blanks} blank{'s' * (blanks != 1)} to fill in.\n\n"
            "Run the cells from the top. Where a cell says `# YOUR CODE HERE`, replace that line and "
            "`raise NotImplementedError()` with your code, then run the check cell that follows: it prints "
            "each quantity's largest element-wise and norm-wise relative error against a reference, and "
            "pass or FAIL. Run top to bottom, this notebook stops at the first blank you have not filled in. "
            f"The worked lesson, `{lesson.stem}.ipynb`, is the solution.")


def exercise_notebook(lesson: Path) -> tuple[nbformat.NotebookNode, int]:
    """The exercise edition of one worked lesson, and its number of blanks."""
    notebook = jupytext.read(lesson)
    blanks = 0
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source, n = strip_solutions(cell.source)
            blanks += n
            cell.outputs, cell.execution_count = [], None
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell(banner(lesson, blanks)))
    for i, cell in enumerate(notebook.cells):
        cell.id = f"cell-{i}"  # fixed ids: regeneration is byte-for-byte repeatable
        cell.metadata = {}
    notebook.metadata.pop("jupytext", None)  # the edition is not paired with a .py
    return notebook, blanks


def render(lesson: Path) -> str:
    notebook, _ = exercise_notebook(lesson)
    return nbformat.writes(notebook, version=4) + "\n"


def edition_path(lesson: Path) -> Path:
    return OUT / f"{lesson.stem}.ipynb"


def stale() -> list[str]:
    """The exercise editions that differ from what their worked lesson generates, or are missing or extra."""
    expected = {edition_path(lesson).name: render(lesson) for lesson in worked_lessons()}
    found = {p.name for p in OUT.glob("*.ipynb")} if OUT.is_dir() else set()
    out = [f"{name} (missing)" for name in sorted(set(expected) - found)]
    out += [f"{name} (no worked lesson of that name)" for name in sorted(found - set(expected))]
    out += [name for name in sorted(set(expected) & found) if (OUT / name).read_text(encoding="utf-8") != expected[name]]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale or missing editions (exit 1)")
    args = parser.parse_args(argv)
    if args.check:
        out = stale()
        for name in out:
            print(f"stale: lessons/exercises/{name}")
        if out:
            print("regenerate them with: python lessons/make_exercises.py")
        return 1 if out else 0
    OUT.mkdir(exist_ok=True)
    for path in OUT.glob("*.ipynb"):
        if not (HERE / f"{path.stem}.py").is_file():
            path.unlink()
    for lesson in worked_lessons():
        text = render(lesson)
        target = edition_path(lesson)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
        print(f"{target.relative_to(HERE.parent)}: {exercise_notebook(lesson)[1]} blanks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
