"""Helpers shared by the contrib modules (internal)."""

from __future__ import annotations

from typing import Any

import jax


def stored(new: Any, old: Any) -> Any:
    """Each leaf of ``new`` cast to the dtype of the matching state leaf in ``old``."""
    return jax.tree.map(lambda n, o: n.astype(o.dtype), new, old)


def value(hyper: Any, count: jax.Array) -> Any:
    """A hyperparameter at ``count``: the schedule's value, or the constant itself."""
    return hyper(count) if callable(hyper) else hyper
