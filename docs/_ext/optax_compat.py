"""``optax-compat``: a table, measured at build time, of Optax's names that gradtx has.

For each public Optax namespace (``optax``, ``optax.losses``, ... ``optax.microbatching``),
the names it exports (its ``__all__``, else its public attributes, modules excluded) are
looked up at the same path in gradtx. Optax is only imported here, by the docs build (it is
in the ``[docs]`` extra); ``gradtx`` never imports it. Without Optax the directive says so.
"""

from __future__ import annotations

import importlib
import types
import typing

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

NAMESPACES = (
    "optax",
    "optax.losses",
    "optax.schedules",
    "optax.transforms",
    "optax.tree",
    "optax.tree_utils",
    "optax.contrib",
    "optax.projections",
    "optax.assignment",
    "optax.perturbations",
    "optax.microbatching",
    "optax.experimental",
    "optax.experimental.aggregating",
)
_SHOWN_MISSING = 12


def _public(module) -> list[str]:
    """``__all__``, else the public attributes but the ``typing`` names a plain module
    imports (``optax.experimental.aggregating`` has no ``__all__``); modules excluded."""
    names = getattr(module, "__all__", None) or [
        n
        for n in dir(module)
        if not n.startswith("_") and getattr(typing, n, None) is not getattr(module, n)
    ]
    return sorted(n for n in names if not isinstance(getattr(module, n, None), types.ModuleType))


def _import(path: str):
    """A module, or a module attribute of a package (``optax.experimental.aggregating``)."""
    try:
        return importlib.import_module(path)
    except ImportError:
        parent, name = path.rsplit(".", 1)
        module = getattr(_import(parent), name, None)
        if not isinstance(module, types.ModuleType):
            raise
        return module


def measure() -> list[tuple[str, int, int, list[str]]]:
    """``(namespace, Optax names, found in gradtx, missing)`` per Optax namespace."""
    rows = []
    for ns in NAMESPACES:
        try:
            theirs = _import(ns)
        except ImportError:
            continue
        try:
            ours = importlib.import_module("gradtx" + ns[len("optax") :])
        except ImportError:
            ours = None
        names = _public(theirs)
        missing = [n for n in names if ours is None or not hasattr(ours, n)]
        rows.append((ns, len(names), len(names) - len(missing), missing))
    return rows


class OptaxCompat(SphinxDirective):
    def run(self):
        try:
            optax = importlib.import_module("optax")
        except ImportError:
            para = nodes.paragraph(text="(Optax is not installed: the table is not measured.)")
            return [para]
        lines = [
            f"Measured when this page was built, against Optax {optax.__version__}:",
            "",
            ".. list-table::",
            "   :header-rows: 1",
            "",
            "   * - Optax namespace",
            "     - Optax names",
            "     - at the same gradtx path",
            "     - missing",
        ]
        for ns, total, found, missing in measure():
            shown = ", ".join(f"``{n}``" for n in missing[:_SHOWN_MISSING])
            if len(missing) > _SHOWN_MISSING:
                shown += f", ... ({len(missing) - _SHOWN_MISSING} more)"
            lines += [
                f"   * - ``{ns}``",
                f"     - {total}",
                f"     - {found}",
                f"     - {shown or 'none'}",
            ]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="optax-compat"), 0, container)
        return container.children


def setup(app):
    app.add_directive("optax-compat", OptaxCompat)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
