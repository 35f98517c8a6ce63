"""Sphinx configuration of the minispectral site.

Build it from the repository root (no network needed; warnings are errors):

    pip install -e ".[docs]" && sphinx-build -W -b html docs docs/_build/html

The lessons, the results and the benchmarks live outside ``docs/``; ``sync_sources`` copies them in
(into git-ignored folders) before each build, discovering them by glob, so a new lesson gets its
page without an edit here. Notebooks are rendered from their committed outputs, never executed.
The API reference is generated the same way, one page per module of the package.
"""
from __future__ import annotations

import filecmp
import importlib
import pkgutil
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(REPO))  # the package of this checkout, also when another copy is installed

import minispectral  # noqa: E402

# --- what is copied in from outside docs/ (git-ignored copies; see .gitignore) ---------------------
LESSONS = REPO / "lessons"
# worked editions: numbered lessons and appendices; exercise editions: lessons/exercises/
WORKED_GLOBS = ("[0-9][0-9]_*.ipynb", "[A-Z]_*.ipynb")
EXERCISE_GLOBS = ("[0-9][0-9]_*.ipynb", "[A-Z]_*.ipynb")
# (source folder, copy under docs/, the file patterns to copy)
COPIES = [
    # the repository's layout, so that the lessons' links to each other (../02_dense_layer.ipynb) hold
    (LESSONS, DOCS / "lessons", WORKED_GLOBS),
    (LESSONS / "exercises", DOCS / "lessons" / "exercises", EXERCISE_GLOBS),
    (REPO / "results", DOCS / "results", ("*.md", "*/*.md", "*.png", "*/*.png", "*.svg", "*/*.svg")),
    (REPO / "benchmarks", DOCS / "benchmarks", ("*.md",)),
]
API = DOCS / "api"  # generated: one page per public module

# Each kernel links to the lesson that derives it. A lesson is named by its topic (the file name
# after the number), so renumbering the course does not break the links; tests/test_docs.py checks
# that every public kernel is here and that every topic names a lesson.
KERNEL_LESSONS = {
    "minispectral.functional.activations": "derivatives_and_gradcheck",
    "minispectral.functional.dense": "dense_layer",
    "minispectral.functional.losses": "softmax_cross_entropy",
    "minispectral.functional.spectral.spectral_weight_forward": "spectral_domain",
    "minispectral.functional.spectral.spectral_forward": "spectral_domain",
    "minispectral.functional.spectral.spectral_weight_backward": "eigenvalue_gradients",
    "minispectral.functional.spectral.spectral_backward": "eigenvalue_gradients",
    "minispectral.functional.fast": "eigenvalue_gradients",
    "minispectral.functional.decompositions": "closing_the_gap",
    "minispectral.functional.sparse": "sparse_networks",
}


def lesson_for_topic(topic: str) -> str | None:
    """'eigenvalue_gradients' -> 'lessons/06_eigenvalue_gradients' (None if no such lesson)."""
    found = sorted(LESSONS.glob(f"[0-9][0-9]_{topic}.ipynb")) + sorted(LESSONS.glob(f"[A-Z]_{topic}.ipynb"))
    return f"lessons/{found[0].stem}" if found else None


def kernel_topic(qualname: str) -> str | None:
    """The lesson topic of a kernel, by its full name, else by its module's."""
    return KERNEL_LESSONS.get(qualname) or KERNEL_LESSONS.get(qualname.rpartition(".")[0])


def _sync(source: Path, target: Path, patterns) -> None:
    """Make ``target`` hold exactly the files of ``source`` that match ``patterns`` (unchanged files
    keep their time stamps, so an incremental build re-reads only what changed); other files of
    ``target`` that match them are stale copies, and go."""
    wanted = {p.relative_to(source) for pattern in patterns for p in source.glob(pattern) if p.is_file()}
    target.mkdir(parents=True, exist_ok=True)
    for rel in wanted:
        src, dst = source / rel, target / rel
        if not (dst.is_file() and filecmp.cmp(src, dst, shallow=False)):
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    for old in {p for pattern in patterns for p in target.glob(pattern) if p.is_file()}:
        if old.relative_to(target) not in wanted:
            old.unlink()


def public_modules() -> list[str]:
    """Every module of the package whose name has no leading underscore, in import order."""
    names = ["minispectral"]
    for info in pkgutil.walk_packages(minispectral.__path__, "minispectral."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def write_api_pages() -> None:
    """api/<module>.rst for each public module (written only when its text changes), and api/index."""
    API.mkdir(exist_ok=True)
    modules = public_modules()
    pages = {}
    for name in modules:
        title = f"``{name}``"
        module = importlib.import_module(name)
        if hasattr(module, "__path__"):
            # a package re-exports what its modules define: list it, linked to where it is documented
            exported = [(n, getattr(module, n)) for n in getattr(module, "__all__", [])]
            items = "".join(f"- :py:obj:`{n} <{o.__module__}.{n}>`\n" if hasattr(o, "__module__")
                            and getattr(o, "__name__", None) == n else f"- ``{n}``\n" for n, o in exported)
            body = f".. automodule:: {name}\n\n" + (f"Exports\n-------\n\n{items}" if items else "")
        else:
            body = f".. automodule:: {name}\n   :members:\n   :show-inheritance:\n"
        pages[f"{name}.rst"] = f"{title}\n{'=' * len(title)}\n\n{body}"
    kernels = [m for m in modules if m.startswith("minispectral.functional.")]
    others = [m for m in modules if m not in kernels]
    pages["index.rst"] = (
        "API reference\n=============\n\n"
        "Generated from the numpy-style docstrings. Each kernel shows its formula, a link to its\n"
        "highlighted source (``[source]``) and the lesson that derives it.\n\n"
        ".. toctree::\n   :caption: Kernels (minispectral.functional)\n   :maxdepth: 1\n\n"
        + "".join(f"   {m}\n" for m in kernels)
        + "\n.. toctree::\n   :caption: Layers, training, data, command line\n   :maxdepth: 1\n\n"
        + "".join(f"   {m}\n" for m in others))
    for filename, text in pages.items():
        path = API / filename
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    for old in API.glob("*.rst"):
        if old.name not in pages:
            old.unlink()


def mnist_lessons() -> list[str]:
    """The worked lessons that train on MNIST (the rule tests/test_lessons.py skips them by)."""
    lessons = sorted(p for pattern in ("[0-9][0-9]_*.py", "[A-Z]_*.py") for p in LESSONS.glob(pattern))
    return [p.stem for p in lessons
            if "load_mnist(" in (text := p.read_text(encoding="utf-8")) or 'load_dataset("mnist"' in text]


def mnist_note() -> str:
    names = mnist_lessons()
    if not names:
        return ""
    listed = ", ".join(f"[{n.split('_')[0]}]({n}.ipynb)" for n in names)
    return (f"Lessons {listed} train on MNIST: they read it through `minispectral.datasets`, from "
            "`$MINISPECTRAL_DATA` or the cache, and download it once if it is in neither.")


def write_lessons_index() -> None:
    """lessons/index.md: the worked editions, then the exercise editions where there are any."""
    def toctree(caption, folder):
        # a glob that matches nothing is a warning, so only the kinds of lesson that are there
        entries = "".join(f"{prefix}*\n" for prefix in ("[0-9][0-9]_", "[A-Z]_") if any(folder.glob(f"{prefix}*.ipynb")))
        return f"```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n:glob:\n\n{entries}```\n\n"

    text = ("# Lessons\n\n"
            "From a derivative to spectral learning on a GPU. Each lesson is a notebook in `lessons/`, shown\n"
            "here with the outputs it was saved with (nothing is re-run to build this site). Every formula is\n"
            "derived beside the code that computes it and checked numerically in the lesson that states it.\n\n"
            "To run them yourself: `pip install -e \".[lessons]\"`, then `jupyter lab lessons/`.\n"
            f"{mnist_note()}\n\n"
            + "The [exercise editions](exercises/index.md) are the same lessons with blanks for you to fill in.\n\n"
            + toctree("Worked lessons", DOCS / "lessons"))
    _write_if_changed(DOCS / "lessons" / "index.md", text)
    exercises = ("# Exercise editions\n\n"
                 "Each lesson again, with blanks where you write the code; a check cell after each blank says\n"
                 "whether your answer is right. Run them in Jupyter from `lessons/exercises/`; the worked\n"
                 "lesson is the solution.\n\n")
    if any((DOCS / "lessons" / "exercises").glob("*.ipynb")):
        exercises += toctree("Exercise editions", DOCS / "lessons" / "exercises")
    else:
        exercises += "There are none yet.\n"
    _write_if_changed(DOCS / "lessons" / "exercises" / "index.md", exercises)


def _write_if_changed(path: Path, text: str) -> None:
    """Write a generated page only when its text changes (an incremental build then skips it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def write_results_index() -> None:
    """results/index.md: results/README.md, then each study's figures beside links to its table and RUN.md."""
    text = "# Results\n\n```{include} README.md\n:heading-offset: 1\n```\n\n## Figures\n\n"
    for table in sorted((DOCS / "results").glob("*/table.md")):
        study = table.parent.name
        text += f"### {study}\n\n[The table]({study}/table.md) · [how it was run]({study}/RUN.md)\n\n"
        text += "".join(f"![{study}: {png.stem}]({study}/{png.name})\n\n" for png in sorted(table.parent.glob("*.png")))
    _write_if_changed(DOCS / "results" / "index.md", text)


def sync_sources() -> None:
    for source, target, patterns in COPIES:
        _sync(source, target, patterns)
    write_lessons_index()
    write_results_index()
    write_api_pages()


sync_sources()

# --- Sphinx -------------------------------------------------------------------------------------
project = "minispectral"
author = "the minispectral authors"
copyright = "the minispectral authors, MIT licence"
release = version = minispectral.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from _static: the site renders math with no network
]
# no intersphinx: the build must not need the network

exclude_patterns = ["_build", "**.ipynb_checkpoints", "results/README.md"]  # shown inside results/index
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

# notebooks: show the committed outputs, never run them
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
myst_dmath_double_inline = True  # lessons put $$...$$ inside a paragraph, as Jupyter allows
suppress_warnings = [
    "myst.header",  # lesson cells may skip a heading level; that is prose, not an error
    "ref.python",  # a type word such as "shape" in a docstring may name several attributes: no link then
]

# API: numpy-style docstrings, members in source order, type hints in the signature only
autodoc_member_order = "bysource"
autodoc_default_options = {"undoc-members": False}
autodoc_typehints = "signature"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # a dataclass's Attributes section and its fields would describe each twice

html_theme = "sphinx_book_theme"
html_title = f"minispectral {version}"
html_static_path = []
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,
    "home_page_in_toc": True,
}
html_last_updated_fmt = None


def _escape_bars(lines):
    """Docstrings are written for ``help()`` too, where ``|x|`` is an absolute value; in
    reStructuredText it would be a substitution. Escape the bars, except in inline literals,
    roles, grid tables and math blocks; in a simple table, whose columns a backslash would shift,
    the bar becomes a divides sign (∣) of the same width."""
    in_math, math_indent, in_table = False, 0, False
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if in_math and stripped and indent <= math_indent:
            in_math = False
        if stripped.startswith(".. math::"):
            in_math, math_indent = True, indent
            continue
        if re.fullmatch(r"=+( +=+)+", stripped.rstrip()):
            # a border opens a table; the one followed by a blank line (or nothing) closes it
            in_table = not in_table or not (i + 1 == len(lines) or not lines[i + 1].strip())
            continue
        grid_row = stripped.startswith("+-") or stripped.startswith("+=") or (
            stripped.startswith("|") and stripped.rstrip().endswith("|") and stripped.count("|") > 2)
        if in_math or "|" not in line or grid_row:
            continue
        bar = "∣" if in_table else r"\|"
        parts = re.split(r"(``.*?``|:\w+:`.*?`|`.*?`)", line)
        lines[i] = "".join(part if j % 2 else part.replace("|", bar) for j, part in enumerate(parts))


def _literal_blocks(lines):
    """An indented block after a plain paragraph is a formula laid out for ``help()``; reST would
    make it a block quote and run its lines together. Mark it literal, so its lines stay as written."""
    def indent(line):
        return len(line) - len(line.lstrip())

    out, last, para_start = [], "", ""  # last non-blank line, and the first line of its paragraph
    opened = None  # the paragraph line whose indented block was made literal
    for line in lines:
        if line.strip():
            after_blank = bool(out) and not out[-1].strip()
            if after_blank and last and indent(line) > indent(last):
                plain = not re.match(r"\s*(\.\. |:|[-*+] |\d+\. |>>>)", para_start)
                if plain and not last.rstrip().endswith("::") and opened is not last:
                    out.extend([" " * indent(last) + ".. code-block:: text", ""])
                    opened = last
            elif after_blank or not last:
                para_start = line
            if not (after_blank and last and indent(line) > indent(last)):
                last = line
        out.append(line)
    lines[:] = out


def separate_lists(app, what, name, obj, options, lines):
    """A bulleted list indented under the paragraph that introduces it, with no blank line between,
    reads well in ``help()``; reST wants the blank line (else "Unexpected indentation"). Runs before
    napoleon, on the docstring as written."""
    out = []
    for line in lines:
        previous = out[-1] if out else ""
        indent = len(line) - len(line.lstrip())
        if (line.lstrip().startswith(("* ", "- ")) and previous.strip() and not previous.rstrip().endswith("::")
                and indent > len(previous) - len(previous.lstrip()) and not previous.lstrip().startswith(("* ", "- "))):
            out.append("")
        out.append(line)
    lines[:] = out


def escape_bars(app, what, name, obj, options, lines):
    _escape_bars(lines)
    _literal_blocks(lines)


def add_lesson_link(app, what, name, obj, options, lines):
    """Under each kernel's docstring: the lesson that derives it (autodoc-process-docstring)."""
    if what != "function" or not name.startswith("minispectral.functional."):
        return
    topic = kernel_topic(name)
    doc = lesson_for_topic(topic) if topic else None
    if doc:
        lines.extend(["", f".. seealso:: The derivation, step by step beside the code: :doc:`/{doc}`", ""])


def setup(app):
    app.connect("autodoc-process-docstring", separate_lists, priority=400)  # before napoleon (500)
    app.connect("autodoc-process-docstring", escape_bars)
    app.connect("autodoc-process-docstring", add_lesson_link)
