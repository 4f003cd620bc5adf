"""Every public name of every Optax namespace exists in gradtx at the same path, with the
same signature (parameter names, order, kinds and defaults), unless listed below with why.

Optax 0.2.8 is the specification. gradtx may add parameters after Optax's, each with a
default (keyword-only flags such as ``scale_by_rprop(..., lagged=True)``); for a NamedTuple
the fields must match, for a Protocol or a type alias the name must exist.
"""

from __future__ import annotations

import importlib
import pkgutil
import types
import typing
import warnings
from typing import Any

import pytest

optax = pytest.importorskip("optax")

from tests.optax_parity import signature_problem  # noqa: E402

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
    "optax.second_order",
    "optax.experimental",
    "optax.experimental.aggregating",  # a module, not a package: see _public_names
)

# Names gradtx deliberately does not provide at Optax's path, with the reason.
EXCLUDED: dict[str, str] = {
    "optax.second_order.hvp": "Optax's deprecated second_order helpers: gradtx.second_order "
    "uses these names for its own documented API (hvp(f, params, v, *args))",
    "optax.second_order.hessian_diag": "Optax's deprecated second_order helpers: "
    "gradtx.second_order.hessian_diag is a stochastic estimator with a key",
    "optax.second_order.fisher_diag": "Optax's deprecated second_order helpers (not provided)",
}


def _optax_module(namespace: str):
    """``optax.experimental.aggregating`` is an attribute (``_aggregating as aggregating``),
    not an importable module: import the package, then follow attributes."""
    try:
        return importlib.import_module(namespace)
    except ImportError:
        parent, name = namespace.rsplit(".", 1)
        return getattr(_optax_module(parent), name)


def _gradtx_module(namespace: str):
    return importlib.import_module("gradtx" + namespace[len("optax") :])


def _public_names(module) -> list[str]:
    """``dir(module)`` without private names, without modules imported from elsewhere
    (``optax.tree_utils`` leaks ``functools`` and ``typing``; the module
    ``optax.experimental.aggregating`` leaks ``optax.tree`` and ``optax._src.base``) and
    without the ``typing`` names a plain module imports (``Any``, ``NamedTuple`` ...)."""
    out = []
    # ``__all__`` may hold names only a module ``__getattr__`` answers (Optax's deprecated
    # top-level ``dpsgd`` ...).
    for name in sorted({*dir(module), *getattr(module, "__all__", ())}):
        if name.startswith("_"):
            continue
        obj = _attr(module, name)
        if isinstance(obj, types.ModuleType) and not obj.__name__.startswith(f"{module.__name__}."):
            continue
        if getattr(typing, name, None) is obj:
            continue
        out.append(name)
    return out


_MISSING = object()


def _attr(module, name: str, *default: Any) -> Any:
    """``getattr``, quiet about the deprecated names both libraries still answer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(module, name, *default)


def _problems(namespace: str) -> dict[str, str]:
    theirs_mod = _optax_module(namespace)
    try:
        ours_mod = _gradtx_module(namespace)
    except ImportError:
        return {namespace: "namespace missing"}
    out = {}
    for name in _public_names(theirs_mod):
        path = f"{namespace}.{name}"
        if path in EXCLUDED:
            continue
        ours = _attr(ours_mod, name, _MISSING)
        if ours is _MISSING:
            out[path] = "missing"
            continue
        problem = signature_problem(ours, _attr(theirs_mod, name))
        if problem:
            out[path] = problem
    return out


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_namespace_matches_optax(namespace):
    problems = _problems(namespace)
    assert not problems, "\n".join(f"{k}: {v}" for k, v in sorted(problems.items()))


def test_every_optax_namespace_is_walked():
    """Each public subpackage of Optax (not its shipped ``*_test`` modules), and each module
    one of them exports (``optax.experimental.aggregating``), is in NAMESPACES."""
    found = set()
    for m in pkgutil.iter_modules(optax.__path__):
        if m.name.startswith("_") or m.name.endswith("_test"):
            continue
        found.add(f"optax.{m.name}")
        sub = importlib.import_module(f"optax.{m.name}")
        for name in _public_names(sub):
            if isinstance(_attr(sub, name), types.ModuleType):
                found.add(f"optax.{m.name}.{name}")
    assert found <= set(NAMESPACES), sorted(found - set(NAMESPACES))


def test_exclusions_name_real_optax_names():
    for path in EXCLUDED:
        namespace, name = path.rsplit(".", 1)
        assert _attr(_optax_module(namespace), name, _MISSING) is not _MISSING, path
    assert all(reason.strip() for reason in EXCLUDED.values())


def test_the_signature_check_can_fail():
    assert signature_problem(lambda a, b=1: 0, lambda a, b=2: 0)
    assert signature_problem(lambda b, a: 0, lambda a, b: 0)
    assert signature_problem(lambda a, c: 0, lambda a: 0)  # an extra parameter needs a default
    assert signature_problem(lambda a, b: 0, lambda a, *, b: 0)  # kinds differ
    assert signature_problem(lambda a, *, c=1: 0, lambda a: 0) is None
    assert signature_problem(lambda *xs: 0, lambda *args: 0) is None
    assert signature_problem(lambda f=lambda x: x + 1: 0, lambda f=lambda x: x: 0)
    assert signature_problem(lambda f=lambda c: c**0.5: 0, lambda f=lambda x: x**0.5: 0) is None


@pytest.mark.parametrize("name", ["DifferentiallyPrivateAggregateState", "dpsgd"])
def test_deprecated_top_level_contrib_aliases_warn_like_optax(name):
    """Optax answers these deprecated top-level names with a DeprecationWarning; so does
    gradtx, with the ``gradtx.contrib`` object."""
    import gradtx
    import gradtx.contrib

    with pytest.warns(DeprecationWarning, match=f"gradtx.contrib.{name}"):
        assert getattr(gradtx, name) is getattr(gradtx.contrib, name)
