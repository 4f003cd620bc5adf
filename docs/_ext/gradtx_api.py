"""Generate the API reference from ``__all__`` of every gradtx namespace, and check coverage.

Nothing here keeps a list of names. At build time (``builder-inited``) the namespaces are
discovered: every public module or package directly under ``gradtx`` (``pkgutil``), plus
any module that ``gradtx.__all__`` exports, plus any module a namespace's ``__all__``
exports (``gradtx.experimental.aggregating``). Each namespace gets one page,
``api/<namespace>.rst``, with a summary table and one autodoc entry per name of its
``__all__``. Names that are also exported flat (``gradtx.adamw`` is
``gradtx.optimizers.adamw``) are documented once, at the flat path, on the page of the
namespace that defines them. Flat names that no namespace lists go on ``api/gradtx.rst``.

After the build (``build-finished``) every expected entry is looked up in the Python
domain's object inventory; a missing one is an error (the build fails), so a new public
name can never be left out silently. ``tests/test_docs.py`` runs the same discovery
without building.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types
from dataclasses import dataclass, field
from pathlib import Path

import gradtx

# Kept out of the reference: not public, or not an API (the demo entry point).
_PRIVATE = {"__main__"}


@dataclass
class Namespace:
    """One page of the reference: a module and the names it documents."""

    name: str  # "optimizers", "tree", ...
    module: types.ModuleType
    summary: str
    # (documented path, name): the path is "gradtx" for flat names, else "gradtx.<name>".
    entries: list[tuple[str, str]] = field(default_factory=list)


def _first_line(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def namespace_names() -> list[str]:
    """Every public gradtx namespace, discovered (no list kept here)."""
    found = {
        m.name
        for m in pkgutil.iter_modules(gradtx.__path__)
        if not m.name.startswith("_") and m.name not in _PRIVATE
    }
    for name in gradtx.__all__:
        if isinstance(getattr(gradtx, name), types.ModuleType):
            found.add(name)
    # A module a namespace exports is a namespace of its own (experimental.aggregating).
    for ns in list(found):
        module = importlib.import_module(f"gradtx.{ns}")
        for name in getattr(module, "__all__", ()):
            sub = getattr(module, name)
            if isinstance(sub, types.ModuleType) and sub.__name__ == f"gradtx.{ns}.{name}":
                found.add(f"{ns}.{name}")
    return sorted(found)


def public_names(module: types.ModuleType) -> list[str]:
    """The names a namespace exports: its ``__all__`` (public attributes if it has none)."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return [n for n in names if not isinstance(getattr(module, n), types.ModuleType)]


def collect() -> tuple[list[Namespace], list[tuple[str, str]]]:
    """The pages and every expected ``(documented path, name)`` entry."""
    flat = set(gradtx.__all__)
    pages: list[Namespace] = []
    seen_flat: set[str] = set()
    for ns_name in namespace_names():
        module = importlib.import_module(f"gradtx.{ns_name}")
        page = Namespace(ns_name, module, _first_line(module))
        for name in public_names(module):
            obj = getattr(module, name)
            if name in flat and getattr(gradtx, name) is obj:
                if name in seen_flat:
                    continue  # already documented flat by an earlier namespace
                seen_flat.add(name)
                page.entries.append(("gradtx", name))
            else:
                page.entries.append((f"gradtx.{ns_name}", name))
        pages.append(page)
    leftovers = sorted(
        n for n in flat - seen_flat if not isinstance(getattr(gradtx, n), types.ModuleType)
    )
    if leftovers:
        page = Namespace("gradtx", gradtx, "Top-level names not listed by a namespace.")
        page.entries = [("gradtx", n) for n in leftovers]
        pages.append(page)
    expected = [e for page in pages for e in page.entries]
    return pages, expected


def _directive(path: str, name: str) -> str:
    module = importlib.import_module(path)
    obj = getattr(module, name)
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return "autoexception"
        return "autoclass"
    if callable(obj):
        return "autofunction"
    return "autodata"


def _class_options(path: str, name: str) -> list[str]:
    obj = getattr(importlib.import_module(path), name)
    if not inspect.isclass(obj) or issubclass(obj, tuple) or issubclass(obj, BaseException):
        return []  # NamedTuples: the docstring's Attributes/fields say it all
    own = [
        m
        for m, v in vars(obj).items()
        if not m.startswith("_") and callable(v) and inspect.getdoc(v)
    ]
    return [f"   :members: {', '.join(sorted(own))}"] if own else []


def _home(path: str, name: str) -> str:
    """Where an object is indexed: its defining public package when that package exports it
    under the same name (``gradtx.tree_utils.NamedTupleKey`` is ``gradtx.tree``'s), else
    ``path``. A re-export elsewhere is rendered with ``:no-index:`` (one index entry)."""
    obj = getattr(importlib.import_module(path), name)
    if path == "gradtx" or vars(gradtx).get(name) is obj:  # vars: no deprecated __getattr__
        return path  # flat names are indexed at the flat path (see collect)
    parts = getattr(obj, "__module__", "").split(".")
    public = ".".join(p for p in parts if not p.startswith("_"))
    if public != path and public.startswith("gradtx"):
        try:
            if getattr(importlib.import_module(public), name, None) is obj:
                return public
        except ImportError:
            pass
    return path


def _title(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}\n"


def render(page: Namespace) -> str:
    """The reST of one reference page."""
    dotted = "gradtx" if page.name == "gradtx" else f"gradtx.{page.name}"
    lines = [".. This file is generated by docs/_ext/gradtx_api.py; do not edit.", ""]
    lines += [_title(f"``{dotted}``"), ""]
    if page.module is not gradtx:
        lines += [f".. automodule:: {dotted}", "   :no-members:", "   :no-index:", ""]
    flat = [n for p, n in page.entries if p == "gradtx"]
    if flat and page.module is not gradtx:
        lines += [
            f"These names are also exported flat: ``gradtx.{flat[0]}`` is "
            f"``{dotted}.{flat[0]}``; they are documented at the flat path.",
            "",
        ]
    for path in dict.fromkeys(p for p, _ in page.entries):
        names = [n for p, n in page.entries if p == path]
        lines += [f".. currentmodule:: {path}", "", ".. autosummary::", ""]
        lines += [f"   {n}" for n in names] + [""]
    lines += [_title("Reference", "-"), ""]
    for path, name in page.entries:
        lines += [f".. currentmodule:: {path}", ""]
        options = _class_options(path, name)
        if _home(path, name) != path:
            options = [*options, "   :no-index:"]
        lines += [f".. {_directive(path, name)}:: {name}"] + options + [""]
    return "\n".join(lines)


def write_pages(outdir: Path) -> list[Namespace]:
    """Write ``api/*.rst`` and ``api/index.rst`` into ``outdir`` (only files that changed)."""
    pages, _ = collect()
    outdir.mkdir(parents=True, exist_ok=True)
    files = {f"{p.name}.rst": render(p) for p in pages}
    index = [
        ".. This file is generated by docs/_ext/gradtx_api.py; do not edit.",
        "",
        _title("API reference"),
        "",
        "One page per namespace, generated from its ``__all__``; every public name has an",
        "entry with its docstring (equations, arguments, defaults, references, examples).",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - namespace",
        "     - names",
        "     - what",
    ]
    for p in pages:
        index += [f"   * - :doc:`{p.name}`", f"     - {len(p.entries)}", f"     - {p.summary}"]
    index += ["", ".. toctree::", "   :hidden:", ""] + [f"   {p.name}" for p in pages] + [""]
    files["index.rst"] = "\n".join(index)
    for stale in outdir.glob("*.rst"):
        if stale.name not in files:
            stale.unlink()
    for fname, text in files.items():
        target = outdir / fname
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
    return pages


def _generate(app) -> None:
    write_pages(Path(app.srcdir) / "api")


def _check_coverage(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    _, expected = collect()
    objects = app.env.get_domain("py").objects
    missing = [f"{p}.{n}" for p, n in expected if f"{_home(p, n)}.{n}" not in objects]
    if missing:
        raise RuntimeError(f"public names without a rendered API entry: {missing}")
    app.config.gradtx_api_count = len(expected)


def setup(app):
    app.connect("builder-inited", _generate)
    app.connect("build-finished", _check_coverage)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
