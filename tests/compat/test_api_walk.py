"""Every public name of every Optax namespace exists in gradtx at the same path, with the
same signature (parameter names, order, kinds and defaults), unless listed below with why.

Optax 0.2.8 is the specification. gradtx may add parameters after Optax's, each with a
default (keyword-only flags such as ``scale_by_rprop(..., lagged=True)``); for a NamedTuple
the fields must match, for a Protocol or a type alias the name must exist.
"""

from __future__ import annotations

import importlib
import types

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
)

# Names gradtx deliberately does not provide at Optax's path, with the reason.
EXCLUDED: dict[str, str] = {
    "optax.second_order.hvp": "Optax's deprecated second_order helpers: gradtx.second_order "
    "uses these names for its own documented API (hvp(f, params, v, *args))",
    "optax.second_order.hessian_diag": "Optax's deprecated second_order helpers: "
    "gradtx.second_order.hessian_diag is a stochastic estimator with a key",
    "optax.second_order.fisher_diag": "Optax's deprecated second_order helpers (not provided)",
}

_PARALLEL = "built in parallel (issue 15/16)"

# Namespaces and names other engineers are building now; the lead removes each entry as
# its branch merges (test_pending_entries_are_still_missing fails on a stale entry).
PENDING: dict[str, str] = {
    # existing gradtx names whose signature or state differs from Optax's (state
    # structures and existing signatures are another engineer's part of issue 15/16)
    "optax.MultiSteps": _PARALLEL + ": accumulator_dtype defaults to None, Optax: float32",
    "optax.transforms.MultiSteps": _PARALLEL + ": as optax.MultiSteps",
    # not in issue 15's list
    "optax.experimental": "optax.experimental (its aggregating module) is in no issue yet",
}


def _gradtx_module(namespace: str):
    return importlib.import_module("gradtx" + namespace[len("optax") :])


def _public_names(module) -> list[str]:
    """``dir(module)`` without private names and without modules imported from elsewhere
    (``optax.tree_utils`` leaks ``functools`` and ``typing``)."""
    out = []
    for name in dir(module):
        if name.startswith("_"):
            continue
        obj = getattr(module, name)
        if isinstance(obj, types.ModuleType) and not obj.__name__.startswith("optax"):
            continue
        out.append(name)
    return out


def _problems(namespace: str) -> dict[str, str]:
    theirs_mod = importlib.import_module(namespace)
    try:
        ours_mod = _gradtx_module(namespace)
    except ImportError:
        return {namespace: "namespace missing"}
    out = {}
    for name in _public_names(theirs_mod):
        path = f"{namespace}.{name}"
        if path in EXCLUDED or path in PENDING:
            continue
        if not hasattr(ours_mod, name):
            out[path] = "missing"
            continue
        problem = signature_problem(getattr(ours_mod, name), getattr(theirs_mod, name))
        if problem:
            out[path] = problem
    return out


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_namespace_matches_optax(namespace):
    if namespace in PENDING:
        pytest.skip(f"{namespace}: {PENDING[namespace]}")
    problems = _problems(namespace)
    assert not problems, "\n".join(f"{k}: {v}" for k, v in sorted(problems.items()))


def test_pending_entries_are_still_missing():
    """A PENDING entry that now matches Optax is stale: remove it."""
    stale = []
    for path in PENDING:
        if path in NAMESPACES:
            try:
                _gradtx_module(path)
            except ImportError:
                continue
            if not _problems(path):
                stale.append(path)
            continue
        namespace, name = path.rsplit(".", 1)
        ours_mod = _gradtx_module(namespace)
        theirs = getattr(importlib.import_module(namespace), name)
        if hasattr(ours_mod, name) and signature_problem(getattr(ours_mod, name), theirs) is None:
            stale.append(path)
    assert not stale, f"remove from PENDING: {stale}"


def test_exclusions_name_real_optax_names():
    for path in (*EXCLUDED, *PENDING):
        namespace, name = path.rsplit(".", 1)
        assert hasattr(importlib.import_module(namespace), name), path
    assert all(reason.strip() for reason in (*EXCLUDED.values(), *PENDING.values()))


def test_the_signature_check_can_fail():
    assert signature_problem(lambda a, b=1: 0, lambda a, b=2: 0)
    assert signature_problem(lambda b, a: 0, lambda a, b: 0)
    assert signature_problem(lambda a, c: 0, lambda a: 0)  # an extra parameter needs a default
    assert signature_problem(lambda a, b: 0, lambda a, *, b: 0)  # kinds differ
    assert signature_problem(lambda a, *, c=1: 0, lambda a: 0) is None
    assert signature_problem(lambda *xs: 0, lambda *args: 0) is None
