"""Shampoo, blocked, with grafting and a start step (the scalable form of Anil et al.)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx.contrib._muon import _as_batched_matrices, _fans, _matrix_batch, _resolve_prefix
from gradtx.core import GradientTransformation, ScalarOrSchedule, Updates, chain, numerics, validate
from gradtx.core.structure import is_none
from gradtx.transforms import scale_by_learning_rate

__all__ = ["ScaleByShampooState", "scale_by_shampoo", "shampoo"]

_GRAFTS = ("sgd", "adagrad", "adam", "none")


class ScaleByShampooState(NamedTuple):
    """State of `scale_by_shampoo`.

    Attributes:
      count: updates so far (int32, saturating).
      mu: momentum of the grafted update, dtype the parameter's.
      graft: the grafting optimizer's accumulator (AdaGrad's sum or Adam's EMA of
        :math:`g^2`; zeros for SGD), dtype the parameter's.
      stats: per matrix leaf ``(L, R)``, each ``[rows/b, cols/b, b, b]`` (float32 or
        wider, blocks padded to ``b``); ``None`` for other leaves.
      roots: per matrix leaf the inverse roots ``(L^{-1/4}, R^{-1/4})``, same shapes.
    """

    count: jax.Array
    mu: Updates
    graft: Updates
    stats: Any
    roots: Any


def _blocks(x: jax.Array, b: int) -> jax.Array:
    """``[m, n]`` -> ``[ceil(m/b), ceil(n/b), b, b]`` (zero padded)."""
    m, n = x.shape
    mb, nb = -(-m // b), -(-n // b)
    x = jnp.pad(x, ((0, mb * b - m), (0, nb * b - n)))
    return x.reshape(mb, b, nb, b).transpose(0, 2, 1, 3)


def _unblocks(x: jax.Array, shape: tuple[int, int]) -> jax.Array:
    mb, nb, b, _ = x.shape
    return x.transpose(0, 2, 1, 3).reshape(mb * b, nb * b)[: shape[0], : shape[1]]


def _inverse_root(stat: jax.Array, power: float, eps: float) -> jax.Array:
    """``(S + eps I)^{-1/power}`` of symmetric PSD ``S`` (batched), by ``eigh``."""
    w, v = jnp.linalg.eigh(stat)
    w = (jnp.maximum(w, 0) + eps) ** (-1.0 / power)
    return (v * w[..., None, :]) @ jnp.swapaxes(v, -1, -2)


def _block_norm(x: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.sum(x * x, axis=(-2, -1), keepdims=True))


def scale_by_shampoo(
    b1: float = 0.9,
    b2: float = 0.999,
    block_size: int = 128,
    preconditioning_compute_steps: int = 1,
    start_preconditioning_step: int = 1,
    exponent: float = 4.0,
    matrix_eps: float = 1e-6,
    graft_type: str = "adagrad",
    graft_eps: float = 1e-8,
    graft_b2: float = 0.999,
    *,
    dimension_numbers: Any = None,
) -> GradientTransformation:
    r"""Rescale updates by blocked Shampoo with grafting (Gupta et al. 2018; the scalable
    form of Anil et al. 2020).

    Each matrix leaf is cut into ``block_size`` square blocks :math:`G` (zero padded);
    per block:

    .. math::
        L_t = \beta_2 L_{t-1} + (1-\beta_2) G_t G_t^\top, \qquad
        R_t = \beta_2 R_{t-1} + (1-\beta_2) G_t^\top G_t \\
        P_t = \hat L^{-1/p} G_t \hat R^{-1/p}, \qquad
        D_t = \lVert A_t \rVert_F \frac{P_t}{\lVert P_t \rVert_F}, \qquad
        u_t = \beta_1 u_{t-1} + (1-\beta_1) D_t

    where :math:`\hat L^{-1/p} = (L + \epsilon_m I)^{-1/p}` (``exponent`` :math:`p`,
    ``matrix_eps`` :math:`\epsilon_m`), recomputed by ``eigh`` every
    ``preconditioning_compute_steps`` steps under ``lax.cond`` (the roots in use are
    then up to that many steps old, as in the paper's Algorithm 2), and :math:`A_t` is
    the grafted direction: ``"sgd"`` :math:`G_t`, ``"adagrad"`` :math:`G_t /
    (\sqrt{\sum_{s \le t} G_s^2} + \epsilon_g)`, ``"adam"`` :math:`G_t /
    (\sqrt{v_t/(1-\beta_g^t)} + \epsilon_g)` (the layer-wise grafting of Agarwal et
    al., per block); ``"none"`` takes :math:`D_t = P_t`. Before step
    ``start_preconditioning_step`` (counted from 1) :math:`D_t = A_t` (for ``"none"``,
    :math:`G_t`). Leaves that are not matrices take :math:`D_t = A_t`.

    ``dimension_numbers`` reads a leaf as a batch of matrices (stacked or scanned
    layers, ``[L, in, out]``): every batch element is its own ``[fan_in, fan_out]``
    matrix, blocked and preconditioned on its own (``vmap`` over the batch, the roots
    still under one ``lax.cond``), so the updates are those of the separate matrices;
    its statistics and roots gain the leaf's batch axes in front. Leaves with ``None``
    dimension numbers are treated as above (2-D leaves preconditioned, others grafted).

    With ``b1 = b2 = 0``, ``"none"``, ``exponent=4``, roots every step and a tiny
    ``matrix_eps``, one block's step is :math:`L^{-1/4} G R^{-1/4} = U V^\top` for
    :math:`G = U \Sigma V^\top`: Muon's orthogonalization, exactly.

    Args:
      b1: momentum of the update, in [0, 1). Default 0.9.
      b2: decay of the statistics, in [0, 1). Default 0.999.
      block_size: the blocks' side, an integer >= 1. Default 128.
      preconditioning_compute_steps: steps between inverse-root refreshes, >= 1.
        Default 1.
      start_preconditioning_step: the first step (from 1) that uses the roots, >= 1.
        Default 1.
      exponent: :math:`p`, > 0 (4 is the paper's for matrices). Default 4.
      matrix_eps: :math:`\epsilon_m` added to the eigenvalues, > 0. Default 1e-6.
      graft_type: one of ``"sgd"``, ``"adagrad"``, ``"adam"``, ``"none"``. Default
        ``"adagrad"``.
      graft_eps: :math:`\epsilon_g`, >= 0. Default 1e-8.
      graft_b2: :math:`\beta_g` of Adam grafting, in [0, 1). Default 0.999.
      dimension_numbers: ``None`` (default: as above), a
        `gradtx.contrib.MuonDimensionNumbers` for every leaf, a prefix tree of the
        params with such leaves or ``None``, or a callable ``params -> such a tree``.
        A leaf with dimension numbers (rank >= 2) is a batch of matrices, see above.

    Returns:
      A `GradientTransformation` with `ScaleByShampooState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above, and (at ``init``) for
        dimension numbers with an axis out of range or named twice.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.scale_by_shampoo(0.0, 0.0, graft_type="none", matrix_eps=1e-12)
      >>> g = jnp.array([[3.0, 0.0], [0.0, -2.0]])
      >>> u, _ = tx.update(g, tx.init(g))
      >>> u.round(4).tolist()  # U V^T of g
      [[1.0, 0.0], [0.0, -1.0]]

    References:
      Gupta et al., "Shampoo: Preconditioned Stochastic Tensor Optimization", ICML 2018,
      https://arxiv.org/abs/1802.09568; Anil et al., "Scalable Second Order
      Optimization for Deep Learning", 2020, https://arxiv.org/abs/2002.09018
    """
    fn = "scale_by_shampoo"
    validate.decay(fn, b1=b1, b2=b2, graft_b2=graft_b2)
    validate.integer(fn, "block_size", block_size, 1)
    validate.integer(fn, "preconditioning_compute_steps", preconditioning_compute_steps, 1)
    validate.integer(fn, "start_preconditioning_step", start_preconditioning_step, 1)
    validate.positive(fn, exponent=exponent, matrix_eps=matrix_eps)
    validate.non_negative(fn, graft_eps=graft_eps)
    validate.one_of(fn, "graft_type", graft_type, _GRAFTS)

    def is_matrix(p):
        return jnp.ndim(p) == 2

    def init_fn(params):
        dims = _resolve_prefix(dimension_numbers, params)

        def stats(p, d, root):
            if p is None or (d is None and not is_matrix(p)):
                return None
            dtype = numerics.compute_dtype(jnp.result_type(p))
            batch, matrix = (
                ((), jnp.shape(p)) if d is None else (_matrix_batch(fn, p, d), _fans(p, d))
            )
            shape = (*batch, *_blocks(jnp.zeros(matrix, dtype), block_size).shape)
            if root:
                eye = jnp.eye(block_size, dtype=dtype)
                return (jnp.broadcast_to(eye, shape), jnp.broadcast_to(eye, shape))
            return (jnp.zeros(shape, dtype), jnp.zeros(shape, dtype))

        def zeros(p):  # zeros_like: keeps the parameter's sharding
            return None if p is None else jnp.zeros_like(p, dtype=jnp.result_type(p))

        return ScaleByShampooState(
            count=numerics.zero_count(),
            mu=jax.tree.map(zeros, params, is_leaf=is_none),
            graft=jax.tree.map(zeros, params, is_leaf=is_none),
            stats=jax.tree.map(lambda p, d: stats(p, d, False), params, dims, is_leaf=is_none),
            roots=jax.tree.map(lambda p, d: stats(p, d, True), params, dims, is_leaf=is_none),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.mu)
        count = numerics.safe_increment(state.count)
        refresh = (count - 1) % preconditioning_compute_steps == 0
        started = count >= start_preconditioning_step

        def one(g, mu, acc, stats, roots):
            if g is None:
                return None, None, None, None, None
            dtype = numerics.compute_dtype(acc.dtype)
            gc = g.astype(dtype)
            if graft_type == "adagrad":
                acc = acc.astype(dtype) + gc * gc
                graft = gc / (jnp.sqrt(acc) + graft_eps)
            elif graft_type == "adam":
                acc = graft_b2 * acc.astype(dtype) + (1 - graft_b2) * gc * gc
                correction = 1 - graft_b2 ** count.astype(dtype)
                graft = gc / (jnp.sqrt(acc / correction) + graft_eps)
            else:
                acc = acc.astype(dtype)
                graft = gc
            if stats is None:
                direction = graft
            else:
                blocks = _blocks(gc, block_size)
                left = b2 * stats[0] + (1 - b2) * (blocks @ jnp.swapaxes(blocks, -1, -2))
                right = b2 * stats[1] + (1 - b2) * (jnp.swapaxes(blocks, -1, -2) @ blocks)
                stats = (left, right)
                roots = jax.lax.cond(
                    refresh,
                    lambda s, r: tuple(_inverse_root(x, exponent, matrix_eps) for x in s),
                    lambda s, r: r,
                    stats,
                    roots,
                )
                pre = roots[0] @ blocks @ roots[1]
                if graft_type != "none":
                    graft_blocks = _blocks(graft, block_size)
                    norm = _block_norm(pre)
                    pre = pre * (_block_norm(graft_blocks) / jnp.where(norm > 0, norm, 1))
                direction = jnp.where(started, _unblocks(pre, g.shape), graft)
            new_mu = b1 * mu.astype(dtype) + (1 - b1) * direction
            return (
                new_mu.astype(g.dtype),
                new_mu.astype(mu.dtype),
                acc.astype(mu.dtype),
                stats,
                roots,
            )

        def batched(g, mu, acc, stats, roots, dims):
            if g is None or dims is None:
                return one(g, mu, acc, stats, roots)
            batch = _matrix_batch(fn, g, dims)
            (g, unflatten), (mu, _), (acc, _) = (
                _as_batched_matrices(x, dims) for x in (g, mu, acc)
            )

            def reshaped(ss, lead):
                return tuple(x.reshape(*lead, *x.shape[-4:]) for x in ss)

            out, mu, acc, stats, roots = jax.vmap(one)(
                g, mu, acc, reshaped(stats, (-1,)), reshaped(roots, (-1,))
            )
            return (
                unflatten(out),
                unflatten(mu),
                unflatten(acc),
                reshaped(stats, batch),
                reshaped(roots, batch),
            )

        treedef = jax.tree.structure(updates, is_leaf=is_none)
        leaves = [
            batched(*args)
            for args in zip(
                treedef.flatten_up_to(updates),
                treedef.flatten_up_to(state.mu),
                treedef.flatten_up_to(state.graft),
                treedef.flatten_up_to(state.stats),
                treedef.flatten_up_to(state.roots),
                treedef.flatten_up_to(_resolve_prefix(dimension_numbers, updates)),
                strict=True,
            )
        ]
        out, mu, acc, stats, roots = (
            treedef.unflatten([leaf[k] for leaf in leaves]) for k in range(5)
        )
        return out, ScaleByShampooState(count=count, mu=mu, graft=acc, stats=stats, roots=roots)

    return GradientTransformation(init_fn, update_fn)


def shampoo(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    block_size: int = 128,
    preconditioning_compute_steps: int = 1,
    start_preconditioning_step: int = 1,
    exponent: float = 4.0,
    matrix_eps: float = 1e-6,
    graft_type: str = "adagrad",
    graft_eps: float = 1e-8,
    graft_b2: float = 0.999,
    *,
    dimension_numbers: Any = None,
) -> GradientTransformation:
    """Shampoo: ``chain(scale_by_shampoo(...), scale_by_learning_rate(learning_rate))``.

    The equations, the blocking and the grafting are on `scale_by_shampoo`.

    Args:
      learning_rate: a number or a schedule.
      b1: momentum of the update, in [0, 1). Default 0.9.
      b2: decay of the statistics, in [0, 1). Default 0.999.
      block_size: the blocks' side, >= 1. Default 128.
      preconditioning_compute_steps: steps between inverse-root refreshes. Default 1.
      start_preconditioning_step: the first step that uses the roots. Default 1.
      exponent: the root's order p, > 0. Default 4.
      matrix_eps: added to the statistics' eigenvalues, > 0. Default 1e-6.
      graft_type: ``"sgd"``, ``"adagrad"``, ``"adam"`` or ``"none"``. Default
        ``"adagrad"``.
      graft_eps: the grafting optimizer's eps, >= 0. Default 1e-8.
      graft_b2: the second-moment decay of Adam grafting. Default 0.999.
      dimension_numbers: stacked or scanned layers as batches of matrices, see
        `scale_by_shampoo`. Default None.

    Returns:
      A `GradientTransformation` (a `chain`).

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda w: jnp.sum((w - 1.0) ** 2)
      >>> tx = gradtx.contrib.shampoo(0.1, block_size=2, graft_type="sgd")
      >>> params = jnp.zeros((2, 3))
      >>> state, update = tx.init(params), jax.jit(tx.update)
      >>> for _ in range(10):
      ...     u, state = update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> round(float(f(params)), 2)  # from 6.0
      0.57

    References:
      Gupta et al., "Shampoo: Preconditioned Stochastic Tensor Optimization", ICML 2018,
      https://arxiv.org/abs/1802.09568; Anil et al., "Scalable Second Order
      Optimization for Deep Learning", 2020, https://arxiv.org/abs/2002.09018
    """
    return chain(
        scale_by_shampoo(
            b1,
            b2,
            block_size,
            preconditioning_compute_steps,
            start_preconditioning_step,
            exponent,
            matrix_eps,
            graft_type,
            graft_eps,
            graft_b2,
            dimension_numbers=dimension_numbers,
        ),
        scale_by_learning_rate(learning_rate),
    )
