"""Optax's measurement transforms: ``snapshot``, ``measure_with_ema`` and ``monitor``.

They record measurements of the updates in the state (read them with
``gradtx.tree.get(state, name)``) and pass the updates through unchanged. For built-in
gradient/update/parameter statistics with vanishing/exploding flags, see
`training_monitor`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, OptState, Updates, chain, stateless, validate
from gradtx.transforms import ema

__all__ = ["MonitorState", "SnapshotState", "measure_with_ema", "monitor", "snapshot"]


class SnapshotState(NamedTuple):
    """State of `snapshot`.

    Attributes:
      measurement: ``{measure_name: measure(updates)}`` of the last update
        (``measure(params)`` before the first).
    """

    measurement: dict[str, Any]


def snapshot(measure_name: str, measure: Callable[[Updates], Any]) -> GradientTransformation:
    """Record ``measure(updates)`` in the state under ``measure_name``; pass updates through.

    Args:
      measure_name: the key, found by ``gradtx.tree.get(state, measure_name)``.
      measure: a function of the update tree (e.g. ``gradtx.tree.l2_norm``). ``init``
        applies it to the params, so it must accept the params' tree too.

    Returns:
      A `GradientTransformation` with `SnapshotState`.

    Raises:
      TypeError: if ``measure`` is not callable.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.chain(gradtx.snapshot("norm", gradtx.tree.l2_norm), gradtx.scale(-0.1))
      >>> g = jnp.array([3.0, 4.0])
      >>> _, state = tx.update(g, tx.init(g))
      >>> float(gradtx.tree.get(state, "norm"))
      5.0
    """
    if not callable(measure):
        raise TypeError(f"snapshot(measure={measure!r}): measure must be callable")

    def init_fn(params):
        return SnapshotState({measure_name: measure(params)})

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        new = measure(updates)
        old = state.measurement[measure_name]
        new = jax.tree.map(lambda n, o: jnp.asarray(n).astype(jnp.result_type(o)), new, old)
        return updates, SnapshotState({measure_name: new})

    return GradientTransformation(init_fn, update_fn)


def measure_with_ema(
    measure: Callable[[Updates], Any],
    decay: float,
    debias: bool = True,
    accumulator_dtype: Any | None = None,
) -> GradientTransformation:
    """An exponential moving average of ``measure(updates)``, for use in `monitor`.

    .. math:: m_t = \\beta m_{t-1} + (1 - \\beta)\\, \\mu(g_t), \\qquad
        \\hat m_t = m_t / (1 - \\beta^t) \\text{ (debiased)}

    Its "updates" are the measurement's average (so it belongs inside `monitor`, not in
    a chain of updates); its state is `ema`'s, shaped like ``measure(params)``.

    Args:
      measure: :math:`\\mu`, a function of the update tree.
      decay: :math:`\\beta`, in [0, 1).
      debias: divide by :math:`1 - \\beta^t`. Default True.
      accumulator_dtype: dtype of the average (default: the measurement's).

    Returns:
      A `GradientTransformation` whose output is :math:`\\hat m_t` (or :math:`m_t`).

    Raises:
      ValueError: if ``decay`` is outside [0, 1).
      TypeError: if ``measure`` is not callable.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.measure_with_ema(gradtx.tree.l2_norm, decay=0.5, debias=False)
      >>> g = jnp.array([3.0, 4.0])
      >>> state = tx.init(g)
      >>> for _ in range(2):
      ...     m, state = tx.update(g, state)
      ...     print(float(m))
      2.5
      3.75
    """
    if not callable(measure):
        raise TypeError(f"measure_with_ema(measure={measure!r}): measure must be callable")
    base = ema(decay, debias, accumulator_dtype)
    average = base._replace(init=lambda params: base.init(measure(params)))
    return chain(stateless(lambda updates, params: measure(updates)), average)


class MonitorState(NamedTuple):
    """State of `monitor`.

    Attributes:
      measurements: ``{name: measurement}`` from the last update. Before the first
        update they are zeros of the measurements' shapes, where Optax has an empty
        dict: gradtx keeps the state's structure fixed, so the state can be a
        ``lax.scan`` carry or a ``lax.cond`` operand.
      measure_states: the measures' states, in the dict's order.
    """

    measurements: dict[str, Any]
    measure_states: tuple[OptState, ...]


def monitor(
    measures: Mapping[str, GradientTransformation | Callable[[Updates], Any]],
) -> GradientTransformation:
    """Record several measurements of the updates in the state; pass updates through.

    Each value is either a callable ``updates -> measurement`` (as in `snapshot`) or a
    transform whose "updates" output is the measurement, such as `measure_with_ema`.
    Place ``monitor`` anywhere in a ``chain`` to measure the updates at that point.

    This is Optax's ``monitor``. `training_monitor` is gradtx's ready-made monitor
    (gradient, update and parameter norms per step, vanishing/exploding flags).

    Args:
      measures: ``{name: measure}``; names must be strings.

    Returns:
      A `GradientTransformation` with `MonitorState`.

    Raises:
      TypeError: for a non-string name or a measure that is neither callable nor a
        transform.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.chain(
      ...     gradtx.monitor({
      ...         "norm": gradtx.tree.l2_norm,
      ...         "norm_ema": gradtx.measure_with_ema(gradtx.tree.l2_norm, decay=0.9),
      ...     }),
      ...     gradtx.clip_by_global_norm(1.0),
      ... )
      >>> g = jnp.array([3.0, 4.0])
      >>> _, state = tx.update(g, tx.init(g))
      >>> float(gradtx.tree.get(state, "norm")), float(gradtx.tree.get(state, "norm_ema"))
      (5.0, 5.0)
    """
    fn = "monitor"
    if not isinstance(measures, Mapping):
        raise TypeError(f"{fn}(measures={measures!r}): measures must be a dict name -> measure")
    txs: dict[str, GradientTransformation] = {}
    for name, measure in measures.items():
        if not isinstance(name, str):
            raise TypeError(f"{fn}(measures=...): measure names must be strings, got {name!r}")
        if hasattr(measure, "init") and hasattr(measure, "update"):
            txs[name] = validate.transform(fn, f"measures[{name!r}]", measure)
        elif callable(measure):
            txs[name] = stateless(lambda updates, params, m=measure: m(updates))
        else:
            raise TypeError(
                f"{fn}(measures[{name!r}]={measure!r}): a measure must be a callable "
                "updates -> value or a transform"
            )

    def init_fn(params):
        states = tuple(tx.init(params) for tx in txs.values())
        measurements = {}
        for (name, tx), s in zip(txs.items(), states, strict=True):
            shape = jax.eval_shape(lambda s, tx=tx: tx.update(params, s, params)[0], s)
            measurements[name] = jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), shape)
        return MonitorState(measurements, states)

    def update_fn(updates, state, params=None, **extra_args):
        measurements, new_states = {}, []
        for (name, tx), s in zip(txs.items(), state.measure_states, strict=True):
            measurement, s = tx.update(updates, s, params, **extra_args)
            old = state.measurements[name]
            measurements[name] = tree_lib.cast_like(measurement, old)
            new_states.append(s)
        return updates, MonitorState(measurements, tuple(new_states))

    return GradientTransformation(init_fn, update_fn)
