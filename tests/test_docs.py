"""The documentation site: it builds with warnings as errors, and it shows what a reader comes for.

The site is built once per session, exactly as the README builds it but into a temporary folder:
``sphinx-build -W -b html docs <tmp>/html``. The checks read the HTML: every lesson (worked and
exercise editions, discovered by glob) has a page that carries its figures and its math; every
kernel has its formula, its highlighted source and the lesson that derives it; no page loads
anything from the network.
"""
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import minispectral.functional

REPO = Path(__file__).resolve().parents[1]
LESSONS = REPO / "lessons"
WORKED = sorted([*LESSONS.glob("[0-9][0-9]_*.ipynb"), *LESSONS.glob("[A-Z]_*.ipynb")])
EXERCISES = sorted([*(LESSONS / "exercises").glob("[0-9][0-9]_*.ipynb"),
                    *(LESSONS / "exercises").glob("[A-Z]_*.ipynb")])
KERNELS = sorted(name for name in minispectral.functional.__all__
                 if callable(getattr(minispectral.functional, name)))


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", "-d", str(out / "doctrees"),
                             str(REPO / "docs"), str(out / "html")], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, f"the site does not build:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return out / "html"


def _page(site: Path, rel: str) -> str:
    path = site / rel
    assert path.is_file(), f"no page {rel}"
    return path.read_text(encoding="utf-8")


def _images(html: str) -> list[str]:
    return re.findall(r'<img[^>]*\ssrc="([^"]+)"', html)


def _has_math(html: str) -> bool:
    """MathJax input left for the browser: \\( \\) inline, \\[ \\] display, in a math element."""
    return bool(re.search(r'class="math[^"]*"[^>]*>\s*\\[(\[]', html))


def test_lessons_are_found():
    assert WORKED, f"no lesson notebooks in {LESSONS}"


@pytest.mark.parametrize("notebook", [*WORKED, *EXERCISES],
                         ids=[f"{p.parent.name}/{p.stem}" for p in [*WORKED, *EXERCISES]])
def test_every_lesson_has_a_page_with_its_figures_and_math(site, notebook):
    folder = "exercises/" if notebook.parent.name == "exercises" else ""
    rel = f"lessons/{folder}{notebook.stem}.html"
    html = _page(site, rel)
    nb = nbformat.read(notebook, as_version=4)
    plots = sum("image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
                for out in cell.get("outputs", []))
    images = _images(html)
    assert len(images) >= plots, f"{rel} shows {len(images)} images; the notebook holds {plots} plots"
    for src in images:
        assert (site / rel).parent.joinpath(src).resolve().is_file(), f"{rel}: image {src} is not in the site"
    markdown = "".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    if "$" in markdown:
        assert _has_math(html), f"{rel} has no rendered math, though its notebook has some"
    # the notebook is rendered, not re-run: the first code output appears as saved
    assert "Traceback" not in html, f"{rel} shows a traceback"
    # the lessons index links the page
    index = "lessons/exercises/index.html" if folder else "lessons/index.html"
    assert f'href="{notebook.stem}.html"' in _page(site, index), f"{index} does not link {notebook.stem}"


def test_a_lesson_page_carries_figures_and_math(site):
    """Lesson 06 (the eigenvalue gradients): its plots and its formulas are on the page."""
    (lesson,) = [p for p in WORKED if p.stem.endswith("_eigenvalue_gradients")]
    html = _page(site, f"lessons/{lesson.stem}.html")
    assert _images(html), "no figure"
    assert r"\partial L/\partial\lambda^\text{in}" in html, "the gradient formula is not on the page as math"
    assert _has_math(html)


@pytest.mark.parametrize("kernel", KERNELS)
def test_each_kernel_shows_formula_source_and_lesson(site, kernel):
    module = getattr(minispectral.functional, kernel).__module__
    rel = f"api/{module}.html"
    html = _page(site, rel)
    anchor = f'id="{module}.{kernel}"'
    assert anchor in html, f"{kernel} is not documented on {rel}"
    entry = html[html.index(anchor):]
    entry = entry[:entry.find('<dl class="py function">') if '<dl class="py function">' in entry else None]
    if kernel.endswith(("_forward", "_backward")) or kernel == "softmax_cross_entropy":  # not the helpers
        assert _has_math(entry), f"{kernel}'s entry on {rel} shows no formula"
    source = re.search(r'href="(\.\./_modules/[^"#]+)#[^"]*"><span class="viewcode-link">', entry)
    assert source, f"{kernel}'s entry has no [source] link"
    assert (site / "api" / source.group(1)).resolve().is_file(), f"{kernel}'s source page is missing"
    lesson = re.search(r'href="(\.\./lessons/\d\d_[^"#/]+\.html)', entry)
    assert lesson, f"{kernel}'s entry links to no lesson (docs/conf.py KERNEL_LESSONS)"
    assert (site / "api" / lesson.group(1)).resolve().is_file(), f"{kernel} links to a missing lesson page"


def test_spectral_backward_page(site):
    """The page a reader of lesson 06 lands on: the three gradients as math, source and lesson links."""
    html = _page(site, "api/minispectral.functional.spectral.html")
    entry = html[html.index('id="minispectral.functional.spectral.spectral_backward"'):]
    assert r"\frac{\partial L}{\partial \lambda^{in}_j} = \sum_i dW_{ij}\phi_{ij}" in entry
    assert "_eigenvalue_gradients.html" in entry
    source = _page(site, "_modules/minispectral/functional/spectral.html")
    assert re.search(r'def</span>(<span class="w">)? (</span>)?<span class="nf">spectral_backward', source)


def test_paper_results_and_benchmarks_are_in_the_site(site):
    assert "Spectral learning for feed-forward networks" in _page(site, "paper.html")
    results = _page(site, "results/index.html")
    for study in sorted(p.parent.name for p in (REPO / "results").glob("*/table.md")):
        assert f"{study}/table.html" in results, f"results/index does not link {study}'s table"
        for png in (REPO / "results" / study).glob("*.png"):
            assert any(Path(src).stem.startswith(png.stem) for src in _images(results)), f"{png.name} not shown"
        _page(site, f"results/{study}/table.html")
    assert "<table" in _page(site, "results/params/table.html")
    _page(site, "benchmarks/RESULTS.html")
    _page(site, "benchmarks/README.html")


def test_the_site_needs_no_network(site):
    """No page loads a script, style sheet or font from elsewhere (MathJax included): it reads offline."""
    remote = []
    for page in site.rglob("*.html"):
        for url in re.findall(r'<(?:script|link)[^>]*\s(?:src|href)="(https?:[^"]+)"', page.read_text(encoding="utf-8")):
            remote.append(f"{page.relative_to(site)}: {url}")
    assert remote == []
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert "_static/mathjax/tex-chtml.js" in _page(site, "index.html")

