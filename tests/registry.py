"""Every public transform, optimizer and wrapper with minimal arguments.

Each area keeps its entries in its own ``tests/registry_<area>.py`` as a list named
``ENTRIES``; this module gathers them. ``tests/test_contract.py`` runs the protocol
properties on every entry, ``tests/test_optax_parity.py`` compares each entry that has an
Optax name with Optax (signature and parity cases), and ``tests/test_api.py`` fails when a
public transform of any namespace (tests/api_walk.py) is neither an entry nor exempt there
with a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple


class Parity(NamedTuple):
    """One Optax parity case of a registry entry: the factory at the entry's Optax path,
    called with the same arguments on gradtx and on Optax, run on the same gradients
    (``tests.optax_parity.assert_optax_parity``).

    Attributes:
      kwargs: the call's keyword arguments, or a function of the library (the ``gradtx``
        or ``optax`` module) returning them, for arguments that are transforms themselves.
      args: positional arguments (a function of the library, like ``kwargs``, or a tuple).
      id: the case's test id (the entry's Optax path is prefixed).
      params: a function returning the parameters (``example_params()`` when ``None``).
      steps, rtol, atol: the trajectory length and the tolerances.
      seed: the seed of the gradient sequence.
      eager: also compare gradtx's op-by-op updates with Optax's jitted ones.
      wrap: ``wrap(lib, tx)`` returns the transform that is compared (e.g. chained behind
        ``lib.scale(-0.3)``); ``None`` compares ``tx`` itself.
    """

    kwargs: dict[str, Any] | Callable[[Any], dict[str, Any]] = {}
    args: tuple[Any, ...] | Callable[[Any], tuple[Any, ...]] = ()
    id: str = ""
    params: Callable[[], Any] | None = None
    steps: int = 30
    rtol: float = 1e-6
    atol: float = 0.0
    seed: int = 1
    eager: bool = False
    wrap: Callable[[Any, Any], Any] | None = None


class Entry(NamedTuple):
    """One public factory under test.

    Attributes:
      name: a unique test id (the public name, or the name plus a variant suffix).
      factory: the factory itself.
      kwargs: minimal keyword arguments that make a sensible transform.
      extra: extra update argument the transform needs: ``None``, ``"value"`` (the loss
        at params) or ``"value_fn"`` (the loss function); the contract test supplies it.
      needs_params: whether ``update`` requires ``params``.
      descends: whether, composed with a learning rate if it has none, it lowers an
        ill-conditioned quadratic (False for clipping-only pieces, noise, identity ...).
      is_optimizer: whether it already includes the learning rate (an alias).
      jit_rtol: tolerance for jit vs eager agreement (XLA may fuse differently).
      supports_bf16: whether bfloat16 leaves are supported.
      optax: Optax's path of the same factory (``"adam"``, ``"contrib.muon"``,
        ``"MultiSteps"``), or ``None`` when Optax has none. gradtx has the factory at the
        same path; tests/test_optax_parity.py compares the two signatures.
      parity: Optax parity cases: each builds the transform at ``optax``'s path on gradtx
        and on Optax and compares their updates (tests/test_optax_parity.py).
      bad: certainly wrong ``(argument, value)`` pairs: each, added to ``kwargs``, must
        raise a ``ValueError`` naming ``factory(argument=value)`` and the rule
        (tests/reliability/test_bad_input.py; the table ``BAD`` there holds the others).
    """

    name: str
    factory: Callable[..., Any]
    kwargs: dict[str, Any]
    extra: str | None = None
    needs_params: bool = False
    descends: bool = True
    is_optimizer: bool = False
    jit_rtol: float = 1e-5
    supports_bf16: bool = True
    optax: str | None = None
    parity: tuple[Parity, ...] = ()
    bad: tuple[tuple[str, Any], ...] = ()


def with_parity(entries: list[Entry], cases: dict[str, tuple[Parity, ...]]) -> list[Entry]:
    """``entries`` with the named ones given their Optax parity cases (``Entry.parity``)."""
    unknown = set(cases) - {e.name for e in entries}
    assert not unknown, f"parity cases for unknown entries: {sorted(unknown)}"
    return [e._replace(parity=e.parity + cases[e.name]) if e.name in cases else e for e in entries]


def first_eager(cases: list[Parity]) -> tuple[Parity, ...]:
    """The cases with the first one also compared op by op (``eager``)."""
    return tuple(c._replace(eager=c.eager or i == 0) for i, c in enumerate(cases))


def _gather() -> list[Entry]:
    from tests import (
        registry_adam,
        registry_contrib,
        registry_contrib_beyond,
        registry_contrib_tail,
        registry_core,
        registry_experimental,
        registry_lbfgs,
        registry_optax_extra,
        registry_optimizers,
        registry_schedules,
        registry_second_order,
        registry_transforms,
        registry_wrappers,
    )

    entries: list[Entry] = []
    for module in (
        registry_core,
        registry_transforms,
        registry_adam,
        registry_optimizers,
        registry_lbfgs,
        registry_wrappers,
        registry_schedules,
        registry_second_order,
        registry_optax_extra,
        registry_contrib,
        registry_contrib_beyond,
        registry_contrib_tail,
        registry_experimental,
    ):
        entries.extend(module.ENTRIES)
    names = [e.name for e in entries]
    assert len(names) == len(set(names)), f"duplicate registry names: {names}"
    return entries


ENTRIES: list[Entry] = _gather()

# A few entries of different kinds (an alias, a transform, a combinator, a wrapper, a
# class, a loss-reading line search, a contrib optimizer). In the developer loop
# (``pytest -m "not slow"``) the registry-driven tests run on these only; CI runs every
# entry (README, "Tests").
QUICK: frozenset[str] = frozenset(
    {"sgd", "adam", "scale_by_adam", "chain", "masked", "MultiSteps", "lbfgs", "contrib.muon"}
)


def sample(entries: list[Entry]) -> list[Any]:
    """``entries`` as ``pytest.param``s with their names as ids, marked ``slow`` unless in
    ``QUICK``."""
    import pytest

    return [
        pytest.param(e, id=e.name, marks=() if e.name in QUICK else pytest.mark.slow)
        for e in entries
    ]
