"""Differentially private SGD: per-example clipping plus Gaussian noise."""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import jax

from gradtx.core import _validate
from gradtx.core._base import GradientTransformation, identity
from gradtx.core._combine import chain
from gradtx.transforms import per_example_global_norm_clip, scale_by_learning_rate, trace
from gradtx.transforms._adding import _canonical_key

__all__ = ["DifferentiallyPrivateAggregateState", "differentially_private_aggregate", "dpsgd"]


class DifferentiallyPrivateAggregateState(NamedTuple):
    """State of `differentially_private_aggregate`.

    Attributes:
      rng_key: the PRNG key the next update splits.
    """

    rng_key: jax.Array


def differentially_private_aggregate(
    l2_norm_clip: Any,
    noise_multiplier: Any,
    key: jax.Array | int | None = None,
    *,
    seed: int | None = None,
) -> GradientTransformation:
    r"""Aggregate per-example gradients privately: clip each, sum, add noise, average.

    .. math::
        \tilde g = \frac{1}{B}\Big(\sum_{b=1}^{B} g_b \min\big(1, C / \|g_b\|\big) +
        \mathcal N(0, \sigma^2 C^2 I)\Big)

    The updates must carry a leading batch axis of per-example gradients (e.g. from
    ``jax.vmap(jax.grad(loss))``); the output drops it.

    Args:
      l2_norm_clip: the clip :math:`C` of each example's global norm, >= 0.
      noise_multiplier: :math:`\sigma`, >= 0.
      key: a PRNG key or an int seed (default ``jax.random.key(0)``; Optax warns).
      seed: deprecated spelling of an int ``key`` (a `DeprecationWarning`, as Optax).

    Returns:
      A `GradientTransformation` with `DifferentiallyPrivateAggregateState`.

    Raises:
      ValueError: if both ``key`` and ``seed`` are given, or for negative arguments.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.differentially_private_aggregate(1.0, 0.0, key=0)
      >>> per_example = jnp.array([[3.0, 4.0], [0.3, 0.4]])  # norms 5 and 0.5
      >>> u, _ = tx.update(per_example, tx.init(jnp.zeros(2)))
      >>> u.round(3).tolist()  # ((0.6, 0.8) + (0.3, 0.4)) / 2
      [0.45, 0.6]

    References:
      Abadi et al., "Deep Learning with Differential Privacy", CCS 2016,
      https://arxiv.org/abs/1607.00133
    """
    fn = "differentially_private_aggregate"
    _validate.non_negative(fn, l2_norm_clip=l2_norm_clip, noise_multiplier=noise_multiplier)
    if seed is not None:
        warnings.warn(f'{fn}: "seed" is deprecated, use "key".', DeprecationWarning, stacklevel=2)
        if key is not None:
            raise ValueError(f"{fn}(key={key!r}, seed={seed!r}): give only one of key and seed")
        key = seed
    key = _canonical_key(0 if key is None else key)
    noise_std = l2_norm_clip * noise_multiplier

    def init_fn(params):
        del params
        return DifferentiallyPrivateAggregateState(rng_key=key)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        leaves, treedef = jax.tree.flatten(updates)
        batch = leaves[0].shape[0]
        clipped, _ = per_example_global_norm_clip(leaves, l2_norm_clip)
        new_key, *keys = jax.random.split(state.rng_key, len(leaves) + 1)
        noised = [
            ((g + noise_std * jax.random.normal(k, g.shape, g.dtype)) / batch).astype(g.dtype)
            for g, k in zip(clipped, keys, strict=True)
        ]
        return jax.tree.unflatten(treedef, noised), DifferentiallyPrivateAggregateState(new_key)

    return GradientTransformation(init_fn, update_fn)


def dpsgd(
    learning_rate: Any,
    l2_norm_clip: Any,
    noise_multiplier: Any,
    seed: int,
    momentum: float | None = None,
    nesterov: bool = False,
) -> GradientTransformation:
    """DP-SGD: private aggregation, optional momentum, the learning rate.

    ``chain(differentially_private_aggregate(l2_norm_clip, noise_multiplier, key=seed),
    trace(momentum, nesterov) or identity(), scale_by_learning_rate(learning_rate))``;
    the updates are per-example gradients (see `differentially_private_aggregate`).

    Args:
      learning_rate: a number or a schedule.
      l2_norm_clip: the per-example clip, >= 0.
      noise_multiplier: the noise scale relative to the clip, >= 0.
      seed: the PRNG seed of the noise.
      momentum: the momentum decay (``None``: none).
      nesterov: Nesterov momentum. Default False.

    Returns:
      A `GradientTransformation` (a `chain`).

    Raises:
      ValueError: for negative ``l2_norm_clip`` or ``noise_multiplier``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.dpsgd(0.1, 1.0, 0.0, seed=0)
      >>> u, _ = tx.update(jnp.array([[3.0, 4.0]]), tx.init(jnp.zeros(2)))
      >>> u.round(3).tolist()
      [-0.06, -0.08]

    References:
      Abadi et al., "Deep Learning with Differential Privacy", CCS 2016,
      https://arxiv.org/abs/1607.00133
    """
    return chain(
        differentially_private_aggregate(l2_norm_clip, noise_multiplier, key=seed),
        trace(decay=momentum, nesterov=nesterov) if momentum is not None else identity(),
        scale_by_learning_rate(learning_rate),
    )
