"""Execute every notebook in ``notebooks/`` and check how each one is stored.

Each notebook is executed by ``nbclient`` on a fresh ``ipykernel`` (the ``notebooks``
extra), as Jupyter runs it: display calls, the inline matplotlib backend and kernel state
are real. Cells tagged ``skip-test`` are never run; cells tagged ``plot`` are run only when
matplotlib is installed, and each must display an ``image/png`` output. The numeric claims
of a notebook are ``assert`` statements in its code cells, so a notebook that stops
demonstrating its point fails here.

Numerics: the rest of the suite runs with strict dtype promotion and rank promotion set
to "raise" (root ``conftest.py``). Users do not; a notebook is user code, and the kernel is
a separate process with JAX's defaults ("standard" promotion, rank promotion allowed).
Warnings are still errors (a first, added cell sets ``warnings.simplefilter("error")``).

Conventions checked statically (cheap, no execution):

* nbformat 4, stored without outputs or execution counts, under 2 MB, first cell markdown;
* imports only ``gradtx``, ``jax`` and ``numpy``; ``matplotlib`` only in ``plot`` cells;
  ``sklearn`` only inside ``try: ... except ImportError`` (it is optional);
* no cell outside ``plot`` uses a name that only ``plot`` cells define, so the notebook
  still runs when its plots are skipped;
* each notebook with plots leaves its figure in ``fig``, which must have data drawn on it.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from pathlib import Path

import pytest

# Slow (CI runs it): every notebook executed through a kernel.
pytestmark = pytest.mark.slow

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {
    "01_quickstart",
    "02_saddle_points",
    "03_newton_vs_first_order",
    "04_schedules_gallery",
    "05_adamw_vs_l2",
    "06_gradient_accumulation",
    "07_hessian_spectrum",
    "08_lr_range_test",
}
MAX_BYTES = 2 * 1024 * 1024
KNOWN_TAGS = {"plot", "skip-test"}
ALLOWED_IMPORTS = {"gradtx", "jax", "numpy"}
PLOT_IMPORTS = {"matplotlib"}
OPTIONAL_IMPORTS = {"sklearn"}  # allowed only under `try: ... except ImportError`
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None

_ids = [path.stem for path in NOTEBOOKS]


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def _tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _code_cells(nb: dict) -> list[tuple[int, dict]]:
    return [(i, c) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]


def test_the_notebooks_are_all_there():
    names = {path.stem for path in NOTEBOOKS}
    assert EXPECTED <= names, f"missing notebooks: {sorted(EXPECTED - names)}"
    for name in names:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+", name), f"{name}: name it NN_topic.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_stored_clean(path):
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size} bytes"
    nb = _load(path)
    assert nb["nbformat"] == 4 and isinstance(nb.get("metadata"), dict)
    cells = nb["cells"]
    assert cells and cells[0]["cell_type"] == "markdown", "the first cell must be markdown"
    assert _source(cells[0]).strip(), "the first cell must say what the notebook demonstrates"
    ids = [c.get("id") for c in cells]
    if nb.get("nbformat_minor", 0) >= 5:
        assert all(ids) and len(set(ids)) == len(ids), "cell ids must be present and unique"
    for i, cell in enumerate(cells):
        assert cell["cell_type"] in ("markdown", "code"), f"cell {i}: {cell['cell_type']}"
        assert _tags(cell) <= KNOWN_TAGS, f"cell {i}: unknown tags {_tags(cell) - KNOWN_TAGS}"
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"cell {i} is stored with outputs"
            assert cell.get("execution_count") is None, f"cell {i} has an execution count"
            assert "execution" not in cell.get("metadata", {}), f"cell {i} has timing metadata"
            # Plain Python (no %magics or !shell lines): it must parse.
            ast.parse(_source(cell), filename=f"{path.name}[cell {i}]")
        else:
            assert "outputs" not in cell and "attachments" not in cell, f"cell {i}"


def _guarded_by_import_error(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether ``node`` sits in the body of a ``try`` that catches ImportError."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Try) and child in parent.body:
            for handler in parent.handlers:
                names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
                if any(
                    isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError")
                    for n in names
                ):
                    return True
        child, parent = parent, parents.get(parent)
    return False


def _defined_and_used(tree: ast.AST) -> tuple[set[str], set[str]]:
    """Top-level names a cell binds, and the names it reads."""
    bound, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
    return bound, used


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_imports_and_plot_independence(path):
    nb = _load(path)
    plot_bound, other_bound, other_used = set(), set(), {}
    for i, cell in _code_cells(nb):
        is_plot = "plot" in _tags(cell)
        tree = ast.parse(_source(cell))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"cell {i}: relative import"
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in ALLOWED_IMPORTS:
                    continue
                if top in PLOT_IMPORTS:
                    assert is_plot, f"cell {i} imports {module} but is not tagged 'plot'"
                elif top in OPTIONAL_IMPORTS:
                    assert _guarded_by_import_error(node, parents), (
                        f"cell {i}: the optional {module} must be imported under "
                        "`try: ... except ImportError`"
                    )
                else:
                    raise AssertionError(
                        f"cell {i} imports {module}: notebooks use only "
                        f"{sorted(ALLOWED_IMPORTS | PLOT_IMPORTS)}"
                    )
        bound, used = _defined_and_used(tree)
        if is_plot:
            plot_bound |= bound
        else:
            other_bound |= bound
            for name in used:
                other_used.setdefault(name, i)
    only_in_plots = plot_bound - other_bound
    leaks = {name: i for name, i in other_used.items() if name in only_in_plots}
    assert not leaks, f"non-plot cells use names defined only in 'plot' cells: {leaks}"


_SETUP = """\
import warnings
warnings.simplefilter("error")  # as in the suite: a warning fails the notebook
for _category, _module in ((DeprecationWarning, "jupyter_client"), (DeprecationWarning, "zmq")):
    warnings.filterwarnings("ignore", category=_category, module=_module)
"""

_CHECK_FIGURE = """\
import matplotlib.figure as _mf
_fig = globals().get("fig")
assert isinstance(_fig, _mf.Figure), "the plot cells must leave their figure in `fig`"
assert any(_ax.has_data() for _ax in _fig.axes), "the figure has nothing drawn on it"
"""


def _executable(nb: dict) -> tuple[dict, list[int]]:
    """The notebook as the kernel runs it, and the positions of its plot cells in it.

    ``skip-test`` cells are dropped; ``plot`` cells too when matplotlib is missing. A first
    cell makes warnings errors; a last one checks the figure the plot cells drew.
    """
    import nbformat

    cells = [nbformat.v4.new_code_cell(_SETUP)]
    plot_positions = []
    for _, cell in _code_cells(nb):
        tags = _tags(cell)
        if "skip-test" in tags or ("plot" in tags and not HAS_MATPLOTLIB):
            continue
        if "plot" in tags:
            plot_positions.append(len(cells))
        cells.append(nbformat.v4.new_code_cell(_source(cell)))
    if plot_positions:
        cells.append(nbformat.v4.new_code_cell(_CHECK_FIGURE))
    out = nbformat.v4.new_notebook(cells=cells, metadata=nb.get("metadata", {}))
    return out, plot_positions


def _run_in_kernel(stored: dict, name: str, folder: Path) -> None:
    """Execute a stored notebook on a fresh ``ipykernel``; fail on any error or missing image."""
    nbclient = pytest.importorskip("nbclient", reason="the notebooks extra is not installed")
    pytest.importorskip("ipykernel", reason="the notebooks extra is not installed")
    import base64

    nb, plot_positions = _executable(stored)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=600,
        allow_errors=False,
        resources={"metadata": {"path": str(folder)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        pytest.fail(f"{name}: a cell failed in the kernel:\n{err}", pytrace=False)
    for position in plot_positions:
        images = [
            base64.b64decode(output["data"]["image/png"])
            for output in nb.cells[position].outputs
            if "image/png" in output.get("data", {})
        ]
        assert images, f"{name}: plot cell {position} displayed no image/png"
        for png in images:
            assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000, len(png)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_runs_in_a_jupyter_kernel(path, tmp_path):
    """Run the notebook on a fresh ``ipykernel`` with ``nbclient``, as Jupyter would.

    The kernel is a separate Python process with JAX's default numerics (what a user has,
    not the suite's strict mode); the notebook's ``assert`` cells are its numeric checks.
    Every ``plot`` cell must display a PNG image (the figures shown on the site).
    """
    _run_in_kernel(_load(path), path.name, tmp_path)


def _tiny(*cells: tuple[str, list[str]]) -> dict:
    out = [{"cell_type": "markdown", "metadata": {}, "source": "# tiny"}]
    for source, tags in cells:
        out.append(
            {
                "cell_type": "code",
                "metadata": {"tags": tags},
                "source": source,
                "outputs": [],
                "execution_count": None,
            }
        )
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": out}


_PLOT = "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([0, 1])\n"


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="the notebooks extra is not installed")
@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([("assert 1 + 1 == 3", [])], "a cell failed"),
        ([("import warnings; warnings.warn('w', UserWarning)", [])], "a cell failed"),
        ([(_PLOT + "plt.close(fig)", ["plot"])], "displayed no image"),
        ([("fig = None", ["plot"])], "a cell failed"),  # no figure left in `fig`
    ],
    ids=["failed_assert", "warning", "plot_without_image", "no_fig"],
)
def test_the_kernel_runner_fails_what_it_should(cells, message, tmp_path):
    with pytest.raises((AssertionError, pytest.fail.Exception), match=message):
        _run_in_kernel(_tiny(*cells), "tiny.ipynb", tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="the notebooks extra is not installed")
def test_the_kernel_runner_skips_skip_test_cells_and_passes_a_good_notebook(tmp_path):
    _run_in_kernel(
        _tiny(("raise SystemExit('never run')", ["skip-test"]), (_PLOT + "fig", ["plot"])),
        "tiny.ipynb",
        tmp_path,
    )
