"""Every public function and class documents itself with a runnable ``Examples:`` doctest.

The walk covers ``gradtx.__all__`` and the ``__all__`` of every namespace it exposes
(``gradtx.tree``, ``gradtx.losses``, ``gradtx.checkpoint`` ...) and of every module those
export (``gradtx.experimental.aggregating``). NamedTuple classes (optimizer
states, result and info records) and exceptions are exempt, as are names that are not gradtx
objects (type aliases such as ``Params = Any``). The doctests themselves run under
``pytest --doctest-modules`` (pyproject ``addopts``).
"""

from __future__ import annotations

import inspect
import re

import gradtx

# Public names still without an Examples: section, by qualified name. Each entry is a debt:
# add the doctest, then delete the name here (the test fails on entries that no longer lack
# one, so this set can only shrink).
PENDING: frozenset[str] = frozenset()

_EXAMPLES = re.compile(r"^Examples:[ \t]*\n(?:[ \t]*\n)*[ \t]+>>> ", re.MULTILINE)


def _is_exempt(obj: object) -> bool:
    if not inspect.isclass(obj):
        return False
    namedtuple = issubclass(obj, tuple) and hasattr(obj, "_fields")
    return namedtuple or issubclass(obj, BaseException)


def public_objects() -> dict[str, object]:
    """``{qualified name: object}`` for every public gradtx function and class, deduplicated
    (an object re-exported at several places is listed under its first, shortest name)."""
    namespaces = {"gradtx": gradtx}
    for name in gradtx.__all__:
        obj = getattr(gradtx, name)
        if inspect.ismodule(obj):
            namespaces[f"gradtx.{name}"] = obj
    for prefix, module in list(namespaces.items()):  # modules a namespace exports
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.ismodule(obj) and f"{prefix}.{name}" not in namespaces:
                namespaces[f"{prefix}.{name}"] = obj
    out: dict[str, object] = {}
    seen: set[int] = set()
    for prefix, module in namespaces.items():
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if not getattr(obj, "__module__", "").startswith("gradtx") or _is_exempt(obj):
                continue
            if id(obj) not in seen:
                seen.add(id(obj))
                out[f"{prefix}.{name}"] = obj
    return out


def lacks_examples(obj: object) -> bool:
    """No own docstring, or no ``Examples:`` section holding a ``>>>`` line."""
    doc = obj.__doc__  # not inspect.getdoc: an inherited docstring does not count
    if inspect.isclass(obj) and doc and doc.startswith(f"{obj.__name__}("):
        doc = None  # the signature dataclasses write when a class has no docstring
    return not doc or not _EXAMPLES.search(inspect.cleandoc(doc))


def test_every_public_callable_has_an_examples_doctest():
    objects = public_objects()
    assert len(objects) > 150, f"the walk found only {len(objects)} public objects"
    missing = sorted(name for name, obj in objects.items() if lacks_examples(obj))
    new = [name for name in missing if name not in PENDING]
    assert not new, (
        "public functions/classes without a docstring `Examples:` doctest section: "
        + ", ".join(new)
    )
    stale = sorted(PENDING - set(missing))
    assert not stale, f"remove from PENDING (documented now, or no longer public): {stale}"
