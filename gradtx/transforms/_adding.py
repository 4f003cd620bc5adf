"""Terms added to the updates: decoupled weight decay and annealed gradient noise."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradtx import tree as tree_lib
from gradtx.core import (
    GradientTransformation,
    ScalarOrSchedule,
    init_empty_state,
    masks,
    numerics,
    validate,
)
from gradtx.core.structure import is_none

__all__ = [
    "AddNoiseState",
    "WeightDecaySchedule",
    "add_decayed_weights",
    "add_noise",
]


class WeightDecaySchedule(NamedTuple):
    """State of `add_decayed_weights` when ``weight_decay`` is a schedule.

    Attributes:
      count: updates so far (int32, saturating); the schedule's next step.
    """

    count: jax.Array


def add_decayed_weights(
    weight_decay: ScalarOrSchedule = 0.0,
    mask: masks.MaskOrFn = None,
) -> GradientTransformation:
    """Add the parameters scaled by ``weight_decay`` to the updates (decoupled decay).

    .. math:: u_t = g_t + \\lambda(t)\\, \\theta_t \\quad \\text{where the mask is true,}
        \\qquad u_t = g_t \\quad \\text{elsewhere}

    Placed before ``scale_by_learning_rate`` this is the decoupled weight decay of
    AdamW; a constant zero decay returns the updates unchanged.

    Args:
      weight_decay: the rate :math:`\\lambda`, >= 0, or a schedule ``step -> rate``.
        Default 0.
      mask: which parameters decay: ``None`` (all, the default), a bool, a pytree of
        bools with the structure of the params (or a prefix of it: a leaf covers its
        whole subtree), or a callable ``params -> such a pytree``. ``True`` decays.

    Returns:
      A `GradientTransformation` with `EmptyState`, or `WeightDecaySchedule` when
      ``weight_decay`` is a schedule; with a ``mask``, as in Optax, it is
      ``masked(add_decayed_weights(weight_decay), mask)`` and the state is that one
      inside a `MaskedState` (except for a mask tree of boolean arrays, which selects
      elementwise, beyond Optax, and keeps the plain state). ``update`` needs ``params``.

    Raises:
      ValueError: if ``weight_decay`` is negative or not finite.
      TypeError: if ``mask`` is a string or a number.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> params = {"w": jnp.array([1.0, 2.0]), "b": jnp.array([3.0])}
      >>> tx = gradtx.add_decayed_weights(0.1, mask={"w": True, "b": False})
      >>> u, _ = tx.update({"w": jnp.zeros(2), "b": jnp.zeros(1)}, tx.init(params), params)
      >>> u["w"].round(3).tolist(), u["b"].tolist()
      ([0.1, 0.2], [0.0])

    References:
      Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019,
      https://arxiv.org/abs/1711.05101
    """
    fn = "add_decayed_weights"
    validate.non_negative(fn, weight_decay=weight_decay)
    validate.finite(fn, weight_decay=weight_decay)
    masks.check(fn, mask)
    scheduled = callable(weight_decay)

    def init_fn(params):
        if scheduled:
            return WeightDecaySchedule(count=numerics.zero_count())
        return init_empty_state(params)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params(fn, params)
        if scheduled:
            rate = weight_decay(state.count)
            new_state = WeightDecaySchedule(count=numerics.safe_increment(state.count))
        else:
            rate = weight_decay
            new_state = state
        if isinstance(rate, (int, float)) and rate == 0.0:
            return updates, new_state

        def decay(g, p):
            if g is None:
                return None
            return numerics.promote_add(g, numerics.scalar_mul(rate, p)).astype(g.dtype)

        decayed = jax.tree.map(decay, updates, params, is_leaf=is_none)
        if elementwise:
            decayed = masks.select(masks.resolve(mask, params), decayed, updates)
        return decayed, new_state

    # A mask tree holding boolean arrays selects elementwise (beyond Optax, whose
    # masks are static): that mask is applied here and the state stays unwrapped.
    elementwise = not masks.is_callable(mask) and any(
        not isinstance(m, (bool, np.bool_)) for m in jax.tree.leaves(mask)
    )
    tx = GradientTransformation(init_fn, update_fn)
    if mask is None or elementwise:
        return tx
    # As in Optax, a mask makes this `masked(add_decayed_weights(weight_decay), mask)`,
    # so the state is Optax's ``MaskedState(inner_state=...)``.
    from gradtx.wrappers import masked  # noqa: PLC0415 (wrappers build on transforms)

    return masked(tx, mask)


class AddNoiseState(NamedTuple):
    """State of `add_noise`.

    Attributes:
      count: updates so far (int32, saturating).
      rng_key: the PRNG key the next update splits.
    """

    count: jax.Array
    rng_key: jax.Array


def add_noise(
    eta: float,
    gamma: float,
    key: jax.Array | int | None = None,
    *,
    seed: int | None = None,
) -> GradientTransformation:
    """Add annealed Gaussian noise to the updates.

    .. math::
        \\sigma_t^2 = \\frac{\\eta}{t^{\\gamma}}, \\qquad
        u_t = g_t + \\sigma_t\\, \\xi_t, \\quad \\xi_t \\sim \\mathcal N(0, I),
        \\quad t = 1, 2, \\dots

    Each update splits the key kept in the state and draws one independent normal
    sample per leaf, in the leaf's dtype (the same stream as Optax for the same key).

    Args:
      eta: the base variance :math:`\\eta`, >= 0.
      gamma: the annealing exponent :math:`\\gamma`, >= 0 (0.55 in the paper).
      key: a PRNG key (typed, or raw ``uint32`` data) or an int seed. ``None`` uses
        ``seed``, or 0 when neither is given.
      seed: an int seed, accepted for compatibility; give ``key`` or ``seed``, not both.

    Returns:
      A `GradientTransformation` with `AddNoiseState`.

    Raises:
      ValueError: if ``eta`` or ``gamma`` is negative, or both ``key`` and ``seed``
        are given.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> tx = gradtx.add_noise(eta=0.0, gamma=0.55, key=jax.random.key(0))
      >>> u, state = tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))
      >>> u.tolist(), int(state.count)  # eta = 0: no noise
      ([1.0, 1.0], 1)

    References:
      Neelakantan et al., "Adding Gradient Noise Improves Learning for Very Deep
      Networks", 2015, https://arxiv.org/abs/1511.06807
    """
    fn = "add_noise"
    validate.non_negative(fn, eta=eta, gamma=gamma)
    validate.finite(fn, eta=eta, gamma=gamma)
    if seed is not None and key is not None:
        raise ValueError(f"{fn}(key={key!r}, seed={seed!r}): give key or seed, not both")
    if key is None:
        key = 0 if seed is None else seed

    def init_fn(params):
        del params
        return AddNoiseState(count=numerics.zero_count(), rng_key=validate.prng_key(key))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count = numerics.safe_increment(state.count)
        t = count.astype(jnp.float32)
        std = jnp.sqrt(_divide(eta, _power(t, gamma)))
        rng_key, sample_key = jax.random.split(state.rng_key)
        # Integer leaves are not trainable: a float32 stand-in keeps every float leaf's
        # noise the same as without them, and they get a zero update of their own dtype.
        noise = tree_lib.random_like(sample_key, jax.tree.map(_float_like, updates))
        new_updates = jax.tree.map(
            lambda g, n: (
                numerics.promote_add(g, numerics.scalar_mul(std, n)).astype(g.dtype)
                if numerics.is_float(g)
                else jnp.zeros_like(g)
            ),
            updates,
            noise,
        )
        return new_updates, AddNoiseState(count=count, rng_key=rng_key)

    return GradientTransformation(init_fn, update_fn)


def _float_like(x: jax.Array) -> jax.Array:
    """``x`` itself, or a float32 stand-in of its shape for an integer leaf."""
    return x if numerics.is_float(x) else jax.ShapeDtypeStruct(jnp.shape(x), jnp.float32)


def _power(t: jax.Array, gamma: Any) -> jax.Array:
    """``t ** gamma`` with ``gamma`` a Python number or a (traced) scalar array."""
    if isinstance(gamma, (int, float)):
        return t**gamma
    gamma = jnp.asarray(gamma)
    dtype = numerics.common_dtype(t.dtype, gamma.dtype)
    return t.astype(dtype) ** gamma.astype(dtype)


def _divide(a: Any, b: jax.Array) -> jax.Array:
    """``a / b`` with ``a`` a Python number or a (traced) scalar array."""
    if isinstance(a, (int, float)):
        return a / b
    a = jnp.asarray(a)
    dtype = numerics.common_dtype(a.dtype, b.dtype)
    return a.astype(dtype) / b.astype(dtype)
