"""What the README and the packaging promise a new user: commands that parse, lessons that say what
they need, a licence file, extras that install only what is used, text that names machines not people."""
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from minispectral.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README has no section '## {title}'"
    return match.group(1)


def _commands() -> list[str]:
    """Every `minispectral ...` line of the README's bash blocks (comments and VAR=value prefixes off)."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            words = shlex.split(line) if line else []
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words.pop(0)
            if words[:1] == ["minispectral"]:
                lines.append(" ".join(words[1:]))
    return lines


def test_the_readme_shows_commands():
    assert any(c.startswith("evaluate ") for c in _commands()), "the README never shows minispectral evaluate"


@pytest.mark.parametrize("command", _commands())
def test_every_readme_command_parses(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # --figure compare.png and the like are checked for writability
    build_parser().parse_args(shlex.split(command))


def test_the_command_line_examples_that_train_name_their_dataset():
    """Without --dataset, train runs on the digits set: an example meant for MNIST must say so."""
    for command in _commands():
        if command.startswith("train "):
            assert "--dataset" in command, f"'minispectral {command}' silently trains on digits"


def test_the_readme_names_every_lesson_that_needs_mnist():
    lessons = [p for p in sorted((REPO / "lessons").glob("[0-9][0-9]_*.py"))
               if "load_mnist(" in (text := p.read_text(encoding="utf-8")) or 'load_dataset("mnist"' in text]
    assert lessons
    section = _section("MNIST and Fashion-MNIST")
    named = set(re.findall(r"\b(\d\d)\b", section))
    assert sorted(p.name[:2] for p in lessons if p.name[:2] not in named) == []


def test_the_readme_gives_venv_advice_and_says_how_to_see_skips():
    quick = _section("Quick start")
    assert "python -m venv" in quick and 'pip install -e ".[test]" && pytest' in quick
    assert "pytest -rs" in quick


def test_the_readme_shows_loading_a_saved_model():
    assert "ms.io.load(" in _section("The Python API in a dozen lines")


def test_the_blas_thread_advice_is_where_train_and_compare_are_introduced():
    assert "OPENBLAS_NUM_THREADS=1" in _section("The command line")


def test_the_licence_file_matches_the_package_metadata():
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}
    licence = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in licence


def test_the_lessons_extra_installs_only_what_the_lessons_use():
    """Each package of the lessons extra is run by the lessons' instructions or tools (nbmake was not)."""
    used = {"jupyter": "jupyter lab", "jupytext": "jupytext", "ipykernel": "kernel"}
    texts = README + (REPO / "lessons" / "README.md").read_text(encoding="utf-8") + \
        (REPO / "lessons" / "build_notebooks.py").read_text(encoding="utf-8")
    for requirement in PYPROJECT["project"]["optional-dependencies"]["lessons"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()
        assert name in used, f"the lessons extra installs {name}, which nothing in lessons/ uses"
        assert used[name] in texts, f"{name}: '{used[name]}' appears nowhere"


@pytest.mark.parametrize("path", ["README.md", "benchmarks/RESULTS.md", "results/README.md"])
def test_texts_name_machines_and_commands_not_who_measured(path):
    text = (REPO / path).read_text(encoding="utf-8")
    banned = re.findall(r"this session|a reviewer|reviewer measured|earlier session|previous session", text, re.I)
    assert banned == [], f"{path}: {banned}"
