"""Execute every notebook in ``notebooks/`` and check how each one is stored.

No Jupyter dependency: each ``.ipynb`` is read with `json` and its code cells are run in
order, with `exec`, in a fresh namespace (as a fresh kernel would). Cells tagged
``skip-test`` are never run; cells tagged ``plot`` are run only when matplotlib is
installed (the ``notebooks`` extra), with the non-interactive Agg backend. The numeric
claims of a notebook are ``assert`` statements in its code cells, so a notebook that stops
demonstrating its point fails here.

Numerics: the rest of the suite runs with strict dtype promotion and rank promotion set
to "raise" (root ``conftest.py``). Users do not; a notebook is user code, so it runs
under JAX's defaults ("standard" promotion, rank promotion allowed) inside
`_user_numerics`. Warnings are still errors (``filterwarnings = error``).

Conventions checked statically (cheap, no execution):

* nbformat 4, stored without outputs or execution counts, under 2 MB, first cell markdown;
* imports only ``gradtx``, ``jax`` and ``numpy``; ``matplotlib`` only in ``plot`` cells;
  ``sklearn`` only inside ``try: ... except ImportError`` (it is optional);
* no cell outside ``plot`` uses a name that only ``plot`` cells define, so the notebook
  still runs when its plots are skipped;
* each notebook exposes the figure to check as ``fig`` (else the last pyplot figure
  counts); it is saved to a temporary PNG, which must be non-empty.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import json
import re
from pathlib import Path

import jax
import pytest

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


@contextlib.contextmanager
def _user_numerics():
    """JAX's default numerics (what a user's kernel has), not the suite's strict mode."""
    with jax.numpy_dtype_promotion("standard"), jax.numpy_rank_promotion("allow"):
        yield


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


def _figure_to_check(namespace: dict):
    """The notebook's ``fig``, else the last pyplot figure, else None."""
    import matplotlib.figure
    import matplotlib.pyplot as plt

    fig = namespace.get("fig")
    if isinstance(fig, matplotlib.figure.Figure):
        return fig
    numbers = plt.get_fignums()
    return plt.figure(numbers[-1]) if numbers else None


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_runs(path, tmp_path):
    nb = _load(path)
    if HAS_MATPLOTLIB:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt

        plt.close("all")
    namespace = {"__name__": "__main__"}
    ran_plot = False
    try:
        with _user_numerics():
            for i, cell in _code_cells(nb):
                tags = _tags(cell)
                if "skip-test" in tags or ("plot" in tags and not HAS_MATPLOTLIB):
                    continue
                ran_plot |= "plot" in tags
                code = compile(_source(cell), f"{path.name}[cell {i}]", "exec")
                exec(code, namespace)  # noqa: S102 - the notebook is the test
        if ran_plot:
            fig = _figure_to_check(namespace)
            assert fig is not None, "the plot cells drew no figure"
            assert any(ax.has_data() for ax in fig.axes), "the figure has nothing drawn on it"
            png = tmp_path / f"{path.stem}.png"
            fig.savefig(png, dpi=40)
            data = png.read_bytes()
            assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000, len(data)
    finally:
        if HAS_MATPLOTLIB:
            plt.close("all")
