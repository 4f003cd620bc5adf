"""Sphinx configuration of the gradtx site (see docs/TOOLCHAIN.md for why Sphinx + MyST-NB).

Build (from the repository root, after ``pip install -e ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Warnings are errors (``-W``). ``-D nb_execution_mode=off`` skips executing the notebooks
(the quick variant CI runs; the test suite executes them through a kernel).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))

import gradtx  # noqa: E402

project = "gradtx"
author = "gradtx authors"
copyright = "2026, gradtx authors"  # noqa: A001
release = gradtx.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
    "gradtx_api",
    "notebook_figures",
    "optax_compat",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "TOOLCHAIN.md", "API.md", "**.ipynb_checkpoints"]
root_doc = "index"

# autodoc / napoleon: Google-style docstrings with reST ``.. math::`` blocks.
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autosummary_generate = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True
add_module_names = True
python_use_unqualified_type_names = False

# MyST / MyST-NB: notebooks are executed during the build, their figures kept.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

html_theme = "sphinx_book_theme"
html_title = f"gradtx {release}"
html_theme_options = {"show_toc_level": 2}


def _copy_notebooks(app):
    """Copy ``notebooks/*.ipynb`` into ``docs/notebooks/`` (generated; stored ones stay clean).

    Cells tagged ``skip-test`` in the stored notebook are tagged ``skip-execution`` too,
    so MyST-NB leaves them out as the test suite does.
    """
    target = Path(app.srcdir) / "notebooks"
    target.mkdir(exist_ok=True)
    wanted = set()
    for source in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(source.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            tags = cell.get("metadata", {}).get("tags", [])
            if "skip-test" in tags and "skip-execution" not in tags:
                tags.append("skip-execution")
        text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        out = target / source.name
        wanted.add(out.name)
        if not out.exists() or out.read_text(encoding="utf-8") != text:
            out.write_text(text, encoding="utf-8")
    for stale in target.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()
    shutil.rmtree(target / ".ipynb_checkpoints", ignore_errors=True)


def setup(app):
    app.connect("builder-inited", _copy_notebooks, priority=400)
