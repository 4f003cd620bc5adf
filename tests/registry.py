"""Every public transform, optimizer and wrapper with minimal arguments.

Each area keeps its entries in its own ``tests/registry_<area>.py`` as a list named
``ENTRIES``; this module gathers them. ``tests/test_contract.py`` runs the protocol
properties on every entry, and ``tests/test_api.py`` fails when a public factory is in
neither ``ENTRIES`` nor ``EXEMPT``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple


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

# Public callables that are not transform factories (or cannot meet the contract), with why.
EXEMPT: dict[str, str] = {
    "measure_with_ema": "its output is the measurement's average, not updates; it is a "
    "measure for monitor, tested there (tests/wrappers/test_optax_monitoring.py)",
}
