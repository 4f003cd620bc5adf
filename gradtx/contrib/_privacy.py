"""Differentially private SGD: per-example clipping, Gaussian noise, averaging."""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx.core import GradientTransformation, chain, identity, numerics, validate
from gradtx.transforms import per_example_global_norm_clip, scale_by_learning_rate, trace

__all__ = ["DifferentiallyPrivateAggregateState", "differentially_private_aggregate", "dpsgd"]


class DifferentiallyPrivateAggregateState(NamedTuple):
    """State of `differentially_private_aggregate`.

    Attributes:
      rng_key: the typed PRNG key the next update splits.
    """

    rng_key: jax.Array


def differentially_private_aggregate(
    l2_norm_clip: Any,
    noise_multiplier: Any,
    key: jax.Array | int | None = None,
    *,
    seed: int | None = None,
) -> GradientTransformation:
    r"""Aggregate per-example gradients as DP-SGD does: clip, sum, add noise, average.

    .. math::
        \tilde g = \frac{1}{B}\Big(\sum_{b=1}^{B} g^{(b)}
        \min\big(1, C / \|g^{(b)}\|\big) + \sigma C\, \xi\Big),
        \qquad \xi \sim \mathcal N(0, I)

    where :math:`g^{(b)}` is the gradient tree of example :math:`b` (index :math:`b`
    of axis 0 of every leaf), :math:`\|\cdot\|` its global norm, :math:`C` =
    ``l2_norm_clip`` and :math:`\sigma` = ``noise_multiplier``. Each update splits the
    state's key into one key for the next update and one per leaf, and draws the
    leaf's noise in its dtype: the same stream as Optax for the same key.

    The input must be **per-example** gradients (e.g. from ``jax.vmap(jax.grad(f))``):
    put this transformation first in a chain. Accumulating wrappers (``MultiSteps``,
    ``apply_every``) do not preserve the privacy accounting. Unlike Optax, a missing
    ``key`` is not warned about (it is ``jax.random.key(0)``); ``seed`` is Optax's
    deprecated spelling and warns as in Optax.

    Args:
      l2_norm_clip: the per-example bound :math:`C`, >= 0.
      noise_multiplier: the ratio :math:`\sigma` of the noise's standard deviation to
        :math:`C`, >= 0.
      key: a PRNG key (typed, or raw ``uint32`` data) or an int seed; ``None`` uses
        ``seed``, or 0 when neither is given.
      seed: an int seed (Optax's deprecated spelling); give ``key`` or ``seed``, not both.

    Returns:
      A `GradientTransformation` with `DifferentiallyPrivateAggregateState`; the updates
      have the per-example leaves' shapes without axis 0.

    Raises:
      ValueError: for a negative bound or multiplier, both ``key`` and ``seed``, or
        leaves without a common batch axis 0 (at update).

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.differentially_private_aggregate(1.0, 0.0, key=0)
      >>> per_example = jnp.array([[3.0, 4.0], [0.3, 0.4]])  # a batch of two
      >>> u, _ = tx.update(per_example, tx.init(jnp.zeros(2)))
      >>> u.round(3).tolist()  # ((0.6, 0.8) + (0.3, 0.4)) / 2
      [0.45, 0.6]

    References:
      Abadi et al., "Deep Learning with Differential Privacy", CCS 2016,
      https://arxiv.org/abs/1607.00133
    """
    fn = "differentially_private_aggregate"
    validate.non_negative(fn, l2_norm_clip=l2_norm_clip, noise_multiplier=noise_multiplier)
    if seed is not None:
        warnings.warn(f'{fn}: "seed" is deprecated, use "key".', DeprecationWarning, stacklevel=2)
        if key is not None:
            raise ValueError(f"{fn}(key={key!r}, seed={seed!r}): give only one of key and seed")
    if key is None:
        key = 0 if seed is None else seed
    key = validate.prng_key(key)

    def init_fn(params):
        del params
        return DifferentiallyPrivateAggregateState(rng_key=key)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        leaves, treedef = jax.tree.flatten(updates)
        if not leaves:
            return updates, state
        batch = jnp.shape(leaves[0])[0] if jnp.ndim(leaves[0]) else 1
        clipped, _ = per_example_global_norm_clip(leaves, l2_norm_clip)
        new_key, *keys = jax.random.split(state.rng_key, len(leaves) + 1)

        def noised(g, k):
            noise = jax.random.normal(k, jnp.shape(g), g.dtype)
            with jax.numpy_dtype_promotion("standard"):
                std = l2_norm_clip * noise_multiplier
                return ((g + numerics.scalar_mul(std, noise)) / batch).astype(g.dtype)

        out = [noised(g, k) for g, k in zip(clipped, keys, strict=True)]
        return jax.tree.unflatten(treedef, out), DifferentiallyPrivateAggregateState(new_key)

    return GradientTransformation(init_fn, update_fn)


def dpsgd(
    learning_rate: Any,
    l2_norm_clip: Any,
    noise_multiplier: Any,
    seed: int,
    momentum: Any | None = None,
    nesterov: bool = False,
) -> GradientTransformation:
    """DP-SGD: ``chain(differentially_private_aggregate, trace, scale_by_learning_rate)``.

    See `differentially_private_aggregate` for the private aggregation (the input is
    per-example gradients, batch on axis 0); ``momentum=None`` leaves out the ``trace``
    (an `identity` in its place, as in Optax).

    Args:
      learning_rate: a number or a schedule.
      l2_norm_clip: the per-example bound :math:`C`, >= 0.
      noise_multiplier: the noise's standard deviation over :math:`C`, >= 0.
      seed: the int seed of the noise's PRNG key (``jax.random.key(seed)``).
      momentum: the ``trace`` decay, or ``None`` for plain SGD.
      nesterov: Nesterov momentum. Default False.

    Returns:
      A `GradientTransformation` (a `chain`).

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda w, x: jnp.sum((w - x) ** 2)  # one example's loss
      >>> data = jnp.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
      >>> tx = gradtx.contrib.dpsgd(0.1, l2_norm_clip=1.0, noise_multiplier=0.0, seed=0)
      >>> w = jnp.zeros(2)
      >>> state = tx.init(w)
      >>> per_example = jax.vmap(jax.grad(f), in_axes=(None, 0))(w, data)
      >>> u, state = tx.update(per_example, state, w)
      >>> bool(jnp.linalg.norm(u) <= 0.1)  # each example's pull is clipped to norm 1
      True

    References:
      Abadi et al., "Deep Learning with Differential Privacy", CCS 2016,
      https://arxiv.org/abs/1607.00133
    """
    return chain(
        differentially_private_aggregate(
            l2_norm_clip=l2_norm_clip, noise_multiplier=noise_multiplier, key=seed
        ),
        trace(decay=momentum, nesterov=nesterov) if momentum is not None else identity(),
        scale_by_learning_rate(learning_rate),
    )
