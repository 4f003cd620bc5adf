"""Adam-mini: Adam with one second-moment scalar per parameter block."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, ScalarOrSchedule, Updates, chain, numerics, validate
from gradtx.core.masks import MaskOrFn
from gradtx.core.structure import is_none
from gradtx.transforms import add_decayed_weights, scale_by_learning_rate

__all__ = ["ScaleByAdamMiniState", "adam_mini", "scale_by_adam_mini"]

BlockAxes = Callable[[jax.Array], tuple[int, ...]] | tuple[int, ...] | None


class ScaleByAdamMiniState(NamedTuple):
    """State of `scale_by_adam_mini`.

    Attributes:
      count: updates so far (int32, saturating).
      mu: first-moment EMA, dtype ``mu_dtype`` or the parameter's.
      nu: the per-block second moments: each leaf the parameter's shape with the axes
        that do not index blocks dropped (a scalar for one block per leaf), dtype the
        parameter's.
    """

    count: jax.Array
    mu: Updates
    nu: Updates


def _kept_axes(fn: str, block_axes: BlockAxes, x: Any) -> tuple[int, ...]:
    ndim = jnp.ndim(x)
    if block_axes is None or ndim == 0 or (ndim == 1 and not callable(block_axes)):
        return ()
    axes = block_axes(x) if callable(block_axes) else block_axes
    try:
        return tuple(sorted({int(a) % ndim for a in axes}))
    except TypeError:
        raise TypeError(
            f"{fn}(block_axes=...): block_axes must give a tuple of axes, got {axes!r}"
        ) from None


def _reduced_axes(kept: tuple[int, ...], ndim: int) -> tuple[int, ...]:
    return tuple(a for a in range(ndim) if a not in kept)


def scale_by_adam_mini(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    block_axes: BlockAxes = None,
    mu_dtype: Any = None,
) -> GradientTransformation:
    r"""Rescale updates by Adam-mini (Zhang et al. 2024): one second moment per block.

    For each block :math:`b` of a leaf (its entries :math:`g_{t,b}`, :math:`|b|` of them):

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_{t,b} = \beta_2 v_{t-1,b} + \frac{1-\beta_2}{|b|} \sum_{i \in b} g_{t,i}^2 \\
        u_t = \frac{m_t / (1-\beta_1^t)}{\sqrt{v_{t,b} / (1-\beta_2^t)} + \epsilon}

    Algorithm 1 of the paper, with the numbers of the reference implementation
    (github.com/zyushun/Adam-mini, ``adam_mini/adam_mini.py``, its non-embedding
    branch: ``vmean`` the EMA of ``mean(grad * grad)``, eps added after the bias
    correction).

    **The partition.** The paper partitions a Transformer by its Hessian's blocks:
    Q and K by head, V, the attention output and the MLPs by output neuron, the
    embedding and output layers by token. gradtx cannot see a leaf's role, so the
    partition is an argument: ``block_axes`` names, per leaf, the axes that *index*
    the blocks (the second moment is averaged over the others):

    - ``None`` (the default): one block per leaf (the paper's "PyTorch default
      partition", Section 2.3).
    - a tuple of axes, used for every leaf with 2 or more dimensions, e.g. ``(0,)``:
      one block per row (a token of a ``[vocab, d]`` embedding), ``(-1,)``: one per
      column (an output neuron of a ``[in, out]`` Flax ``Dense`` kernel).
    - a callable ``leaf -> tuple of axes``, called on every leaf with 1 or more
      dimensions, for a per-leaf choice (``()`` for one block; all axes for Adam
      itself); ``(1,)`` on a ``[d, heads, head_dim]`` query kernel gives one block
      per head.

    Scalars are one block, and so are vectors unless a callable says otherwise. With
    every axis kept each block is one entry and the step is Adam's
    (`gradtx.scale_by_adam`).

    Args:
      b1: first-moment decay, in [0, 1). Default 0.9.
      b2: second-moment decay, in [0, 1). Default 0.999.
      eps: added to the root second moment, >= 0. Default 1e-8.
      block_axes: the partition, see above. Default None (one block per leaf).
      mu_dtype: storage dtype of the first moment (default: the parameter's).

    Returns:
      A `GradientTransformation` with `ScaleByAdamMiniState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.
      TypeError: if ``block_axes`` is not None, a tuple or a callable.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.scale_by_adam_mini()
      >>> g = jnp.array([3.0, -4.0])
      >>> u, state = tx.update(g, tx.init(g))
      >>> u.round(4).tolist()  # g / rms(g): rms = sqrt((9 + 16) / 2)
      [0.8485, -1.1314]
      >>> state.nu.shape  # one scalar for the leaf
      ()

    References:
      Zhang et al., "Adam-mini: Use Fewer Learning Rates To Gain More", ICLR 2025,
      https://arxiv.org/abs/2406.16793
    """
    fn = "scale_by_adam_mini"
    validate.decay(fn, b1=b1, b2=b2)
    validate.non_negative(fn, eps=eps)
    if not (block_axes is None or callable(block_axes) or isinstance(block_axes, tuple)):
        raise TypeError(
            f"{fn}(block_axes={block_axes!r}): block_axes must be None, a tuple of axes "
            "or a callable leaf -> tuple of axes"
        )
    mu_dtype = numerics.canonicalize_dtype(mu_dtype)

    def block_shape(p):
        kept = _kept_axes(fn, block_axes, p)
        return tuple(d for a, d in enumerate(jnp.shape(p)) if a in kept)

    def init_fn(params):
        def nu(p):
            if p is None:
                return None
            return jnp.zeros(block_shape(p), jnp.result_type(p))

        return ScaleByAdamMiniState(
            count=numerics.zero_count(),
            mu=tree_lib.zeros_like(params, dtype=mu_dtype),
            nu=jax.tree.map(nu, params, is_leaf=is_none),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.mu)
        count = numerics.safe_increment(state.count)
        mu = numerics.update_moment(updates, state.mu, b1, 1)

        def block_mean_sq(g, v):
            if g is None:
                return None
            kept = _kept_axes(fn, block_axes, g)
            dtype = numerics.compute_dtype(g.dtype)
            sq = numerics.abs_sq(g).astype(dtype)
            return jnp.mean(sq, axis=_reduced_axes(kept, g.ndim)).astype(v.dtype)

        mean_sq = jax.tree.map(block_mean_sq, updates, state.nu, is_leaf=is_none)
        nu = numerics.update_moment(mean_sq, state.nu, b2, 1)
        mu_hat = numerics.bias_correction(mu, b1, count)
        nu_hat = numerics.bias_correction(nu, b2, count)

        def step(g, m, v):
            if g is None:
                return None
            dtype = numerics.compute_dtype(g.dtype)
            v = jnp.expand_dims(v, _reduced_axes(_kept_axes(fn, block_axes, g), g.ndim))
            denom = jnp.sqrt(v.astype(dtype)) + eps
            return (m.astype(dtype) / denom).astype(g.dtype)

        out = jax.tree.map(step, updates, mu_hat, nu_hat, is_leaf=is_none)
        return out, ScaleByAdamMiniState(
            count=count,
            mu=tree_lib.cast_like(mu, state.mu),
            nu=tree_lib.cast_like(nu, state.nu),
        )

    return GradientTransformation(init_fn, update_fn)


def adam_mini(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: MaskOrFn = None,
    block_axes: BlockAxes = None,
    mu_dtype: Any = None,
) -> GradientTransformation:
    r"""Adam-mini: ``chain(scale_by_adam_mini(...), add_decayed_weights(weight_decay,
    mask), scale_by_learning_rate(learning_rate))``.

    The equations and the partition (``block_axes``) are on `scale_by_adam_mini`; the
    decay is decoupled, as the reference's ``p.mul_(1 - lr * weight_decay)`` before
    the step.

    Args:
      learning_rate: a number or a schedule.
      b1: first-moment decay, in [0, 1). Default 0.9.
      b2: second-moment decay, in [0, 1). Default 0.999.
      eps: added to the root second moment, >= 0. Default 1e-8.
      weight_decay: decoupled weight decay, >= 0, or a schedule. Default 0.
      mask: which parameters decay (see `gradtx.add_decayed_weights`).
      block_axes: the partition (see `scale_by_adam_mini`). Default one block per leaf.
      mu_dtype: storage dtype of the first moment.

    Returns:
      A `GradientTransformation` (a `chain`).

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.contrib.adam_mini(0.1)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(3):
      ...     u, state = tx.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> [round(float(x), 3) for x in params]  # one step size for the whole vector
      [0.86, 1.72, 2.58]

    References:
      Zhang et al., "Adam-mini: Use Fewer Learning Rates To Gain More", ICLR 2025,
      https://arxiv.org/abs/2406.16793
    """
    return chain(
        scale_by_adam_mini(b1, b2, eps, block_axes, mu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
