"""Optax conformance of every registry entry that has an Optax name (``Entry.optax``).

One table (tests/registry*.py) drives both checks:

* the signature: the factory at the entry's Optax path has Optax's parameters, in order,
  of the same kinds and with the same defaults; gradtx's extra parameters are
  keyword-only with defaults;
* the numbers: each ``Parity`` case of an entry builds the transform with the same
  arguments on gradtx and on Optax and compares their updates over a trajectory
  (``tests.optax_parity.assert_optax_parity``).
"""

from __future__ import annotations

import inspect

import pytest

optax = pytest.importorskip("optax")

import gradtx  # noqa: E402
from tests.api_walk import public_api, resolve  # noqa: E402
from tests.optax_parity import assert_optax_parity, build, signature_problem  # noqa: E402
from tests.registry import ENTRIES, QUICK  # noqa: E402

slow = pytest.mark.slow

OPTAX_PATHS = sorted({e.optax for e in ENTRIES if e.optax})

_NU_DTYPE = """adabelief adam adamax adamaxw adamw amsgrad nadam nadamw radam yogi scale_by_adam
scale_by_adamax scale_by_adan scale_by_amsgrad scale_by_belief scale_by_novograd scale_by_radam
scale_by_yogi""".split()

# gradtx's parameters beyond Optax's (each keyword-only, with a default); any other extra
# parameter fails the signature test.
EXTRA_PARAMETERS: dict[str, tuple[str, ...]] = {
    # the second moment's storage dtype (low-memory state, issue 7)
    **dict.fromkeys(_NU_DTYPE, ("nu_dtype",)),
    # Riedmiller & Braun's un-lagged Rprop as an option (Optax's is lagged)
    "rprop": ("lagged",),
    "scale_by_rprop": ("lagged",),
    # the paper's variants as explicit options
    "contrib.galore": ("proj_type",),
    "contrib.scale_by_galore": ("proj_type",),
    "contrib.momo": ("divide",),
    "contrib.momo_adam": ("divide",),
    "contrib.muon": ("bias_correction", "normuon", "normuon_b2", "safety_factor"),
    "contrib.sophia": ("bias_correction", "estimator", "key", "num_samples"),
}


def _has(root, path):
    try:
        resolve(root, path)
    except AttributeError:
        return False
    return True


@pytest.mark.parametrize("path", OPTAX_PATHS)
def test_signature_matches_optax(path):
    ours, theirs = resolve(gradtx, path), resolve(optax, path)
    problem = signature_problem(ours, theirs, extras_keyword_only=True)
    assert problem is None, f"{path}: {problem}"
    ours_p, theirs_p = inspect.signature(ours).parameters, inspect.signature(theirs).parameters
    extras = tuple(ours_p)[len(theirs_p) :]
    assert extras == EXTRA_PARAMETERS.get(path, ()), f"{path}: undocumented extras {extras}"


def test_extra_parameters_name_registry_entries():
    assert set(EXTRA_PARAMETERS) <= set(OPTAX_PATHS)


def test_optax_names_are_optax_paths_of_the_entries():
    """Each ``optax`` name exists in both libraries, and an entry whose factory is gradtx's
    object at an Optax path names it (so it cannot silently miss the checks above)."""
    for e in ENTRIES:
        if e.optax:
            assert _has(optax, e.optax) and _has(gradtx, e.optax), (e.name, e.optax)
            continue
        paths = [p for p, obj in public_api().items() if obj is e.factory]
        assert not [p for p in paths if _has(optax, p)], f"{e.name}: set optax= to one of {paths}"


CASES = [(e, case) for e in ENTRIES for case in e.parity]


@pytest.mark.parametrize(
    "entry,case",
    [
        pytest.param(e, c, id=f"{e.optax}-{c.id or i}", marks=() if e.name in QUICK else slow)
        for i, (e, c) in enumerate(CASES)
    ],
)
def test_matches_optax(entry, case):
    assert_optax_parity(
        build(gradtx, entry, case),
        build(optax, entry, case),
        case.params() if case.params else None,
        steps=case.steps,
        rtol=case.rtol,
        atol=case.atol,
        eager=case.eager,
        seed=case.seed,
    )


def test_every_parity_case_has_an_optax_name():
    assert all(e.optax for e in ENTRIES if e.parity)
