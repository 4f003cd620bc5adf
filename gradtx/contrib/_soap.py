"""SOAP: Adam in the eigenbasis of Shampoo's preconditioner."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.contrib._muon import _as_batched_matrices, _fans, _matrix_batch, _resolve_prefix
from gradtx.core import GradientTransformation, ScalarOrSchedule, Updates, chain, numerics, validate
from gradtx.core.masks import MaskOrFn
from gradtx.core.structure import is_none
from gradtx.transforms import add_decayed_weights, scale_by_learning_rate

__all__ = ["ScaleBySoapState", "scale_by_soap", "soap"]


class ScaleBySoapState(NamedTuple):
    """State of `scale_by_soap`.

    Attributes:
      count: updates so far (int32, saturating); the first only initializes the basis.
      mu: first-moment EMA of the gradients in the parameters' own basis, dtype
        ``mu_dtype`` or the parameter's.
      nu: second-moment EMA of the *rotated* gradients, dtype the parameter's.
      stats: per leaf, a tuple with one entry per axis: Shampoo's statistic
        :math:`L_i` (a ``[d_i, d_i]`` float32-or-wider matrix) for a preconditioned
        axis, ``None`` for one that is not.
      bases: per leaf, the matching eigenbases :math:`Q_i` (same shapes, ``None`` alike).
    """

    count: jax.Array
    mu: Updates
    nu: Updates
    stats: Any
    bases: Any


def _preconditioned_axes(shape, max_precond_dim: int, precondition_1d: bool) -> tuple[bool, ...]:
    if len(shape) == 1 and not precondition_1d:
        return (False,)
    return tuple(d <= max_precond_dim for d in shape)


def _rotate(x: jax.Array, bases, transpose: bool) -> jax.Array:
    """``x`` with each preconditioned axis ``i`` multiplied by ``Q_i^T`` (or ``Q_i``)."""
    for i, q in enumerate(bases):
        if q is not None:
            x = jnp.moveaxis(jnp.tensordot(x, q, axes=([i], [0 if transpose else 1])), -1, i)
    return x


def _gram(g: jax.Array, axis: int) -> jax.Array:
    others = [a for a in range(g.ndim) if a != axis]
    return jnp.tensordot(g, g, axes=(others, others))


def _eigenbasis(stat: jax.Array) -> jax.Array:
    """Eigenvectors of ``stat``, eigenvalues descending (the reference's first basis)."""
    eye = jnp.eye(stat.shape[0], dtype=stat.dtype)
    _, q = jnp.linalg.eigh(stat + 1e-30 * eye)
    return q[:, ::-1]


def _refreshed(stats, bases, nu):
    """One power iteration + QR per axis, the columns (and ``nu``) sorted first by the
    estimated eigenvalues :math:`\\mathrm{diag}(Q^T L Q)`, descending."""
    new = []
    for i, (s, q) in enumerate(zip(stats, bases, strict=True)):
        if q is None:
            new.append(None)
            continue
        estimate = jnp.sum(q * (s @ q), axis=0)
        order = jnp.argsort(-estimate)
        nu = jnp.take(nu, order, axis=i)
        new.append(jnp.linalg.qr(s @ q[:, order])[0])
    return tuple(new), nu


def scale_by_soap(
    b1: float = 0.95,
    b2: float = 0.95,
    shampoo_beta: float | None = None,
    eps: float = 1e-8,
    precondition_frequency: int = 10,
    max_precond_dim: int = 10000,
    precondition_1d: bool = False,
    normalize_grads: bool = False,
    correct_bias: bool = True,
    mu_dtype: Any = None,
    *,
    dimension_numbers: Any = None,
) -> GradientTransformation:
    r"""Rescale updates by SOAP (Vyas et al. 2024): Adam in Shampoo's eigenbasis.

    For a matrix gradient :math:`G_t` (each preconditioned axis of a tensor alike),
    with Shampoo's statistics :math:`L_t, R_t` and their eigenbases :math:`Q_L, Q_R`:

    .. math::
        \tilde G_t = Q_L^\top G_t Q_R, \qquad
        M_t = \beta_1 M_{t-1} + (1-\beta_1) G_t, \qquad
        V_t = \beta_2 V_{t-1} + (1-\beta_2) \tilde G_t^{\odot 2} \\
        U_t = \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\,
        Q_L \frac{Q_L^\top M_t Q_R}{\sqrt{V_t} + \epsilon} Q_R^\top \\
        L_t = \beta_s L_{t-1} + (1-\beta_s) G_t G_t^\top, \qquad
        R_t = \beta_s R_{t-1} + (1-\beta_s) G_t^\top G_t

    (:math:`\beta_s` = ``shampoo_beta``, default :math:`\beta_2`). The first update
    only sets :math:`L_1, R_1` and their eigenbases (by ``eigh``) and returns zeros, so
    the current gradient never enters its own rotation; :math:`t` then counts the Adam
    steps from 1. After step :math:`t` updates the statistics, when ``t %
    precondition_frequency == 0`` each basis is refreshed by one power iteration and a
    QR decomposition, :math:`Q \leftarrow \mathrm{QR}(L Q)`, with the columns of
    :math:`Q` (and the axes of :math:`V`) first sorted by the estimated eigenvalues
    :math:`\mathrm{diag}(Q^\top L Q)`. The refreshes run under ``lax.switch``, so only
    the step that needs one pays for it and the step compiles once.

    This is Algorithm 3 of the paper as the reference implementation computes it
    (github.com/nikhilvyas/SOAP, ``soap.py``): the first moment is kept in the
    original basis and rotated each step; eps is added to :math:`\sqrt{V_t}` before
    the bias correction. An axis longer than ``max_precond_dim`` is not rotated (its
    basis stays the identity); a vector is rotated only with ``precondition_1d``, so by
    default vectors and scalars take Adam's step (with the same skipped first step and
    eps placement). Tensors of any rank have one statistic per axis; the reference's
    ``merge_dims`` is not offered. With every basis at the identity
    (``max_precond_dim=0``) the step is Adam's with the same betas.

    A rank-deficient statistic (a wide or tall matrix in its first steps) has a
    degenerate zero eigenvalue whose eigenvectors are any orthonormal basis of the null
    space; Adam is not rotation invariant, so the updates there depend on the basis
    the ``eigh`` implementation picks (one device or sharded, CPU or GPU), as in the
    reference.

    ``dimension_numbers`` reads a leaf as a batch of matrices (stacked or scanned
    layers, ``[L, in, out]``): every batch element is its own ``[fan_in, fan_out]``
    matrix with its own statistics and bases (``vmap`` over the batch, the refresh still
    one ``lax.switch``), so the updates are those of the separate matrices, and the
    statistics gain the leaf's batch axes in front (``[*batch, d, d]``); ``mu`` and
    ``nu`` keep the parameter's shape. ``normalize_grads`` then divides per matrix.
    Leaves with ``None`` dimension numbers are treated as above.

    Args:
      b1: first-moment decay, in [0, 1). Default 0.95.
      b2: second-moment decay, in [0, 1). Default 0.95.
      shampoo_beta: decay of Shampoo's statistics, in [0, 1), or ``None`` for ``b2``.
        Default None.
      eps: added to :math:`\sqrt{V}`, >= 0. Default 1e-8.
      precondition_frequency: steps between basis refreshes, an integer >= 1.
        Default 10.
      max_precond_dim: the longest axis that gets a basis, an integer >= 0. Default
        10000.
      precondition_1d: rotate vectors too. Default False.
      normalize_grads: divide each leaf's update by its RMS. Default False.
      correct_bias: apply Adam's bias corrections. Default True.
      mu_dtype: storage dtype of the first moment (default: the parameter's).
      dimension_numbers: ``None`` (default: every leaf as above), a
        `gradtx.contrib.MuonDimensionNumbers` for every leaf, a prefix tree of the
        params with such leaves or ``None``, or a callable ``params -> such a tree``.
        A leaf with dimension numbers (rank >= 2) is a batch of matrices, see above.

    Returns:
      A `GradientTransformation` with `ScaleBySoapState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above, and (at ``init``) for
        dimension numbers with an axis out of range or named twice.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.scale_by_soap()
      >>> g = jnp.array([[1.0, 2.0], [3.0, 4.0]])
      >>> state = tx.init(g)
      >>> u, state = tx.update(g, state)
      >>> u.tolist()  # the first step only sets the eigenbases
      [[0.0, 0.0], [0.0, 0.0]]
      >>> u, state = tx.update(jnp.array([[1.0, 0.0], [0.0, -1.0]]), state)
      >>> u.round(2).tolist()  # sign descent in the bases of the first gradient
      [[1.37, -0.34], [-0.34, -1.37]]

    References:
      Vyas et al., "SOAP: Improving and Stabilizing Shampoo using Adam", ICLR 2025,
      https://arxiv.org/abs/2409.11321
    """
    fn = "scale_by_soap"
    validate.decay(fn, b1=b1, b2=b2)
    if shampoo_beta is not None:
        validate.decay(fn, shampoo_beta=shampoo_beta)
    validate.non_negative(fn, eps=eps)
    validate.integer(fn, "precondition_frequency", precondition_frequency, 1)
    validate.integer(fn, "max_precond_dim", max_precond_dim, 0)
    beta_s = b2 if shampoo_beta is None else shampoo_beta
    mu_dtype = numerics.canonicalize_dtype(mu_dtype)

    def leaf_stats(p, dims, make):
        if p is None:
            return None
        dtype = numerics.compute_dtype(jnp.result_type(p))
        if dims is None:
            batch, shape = (), jnp.shape(p)
        else:
            batch, shape = _matrix_batch(fn, p, dims), _fans(p, dims)
        axes = _preconditioned_axes(shape, max_precond_dim, precondition_1d)
        return tuple(
            jnp.broadcast_to(make(d, dtype), (*batch, d, d)) if on else None
            for d, on in zip(shape, axes, strict=True)
        )

    def init_fn(params):
        dims = _resolve_prefix(dimension_numbers, params)

        def per_leaf(make):
            return jax.tree.map(lambda p, d: leaf_stats(p, d, make), params, dims, is_leaf=is_none)

        return ScaleBySoapState(
            count=numerics.zero_count(),
            mu=tree_lib.zeros_like(params, dtype=mu_dtype),
            nu=tree_lib.zeros_like(params),
            stats=per_leaf(lambda d, t: jnp.zeros((d, d), t)),
            bases=per_leaf(lambda d, t: jnp.eye(d, dtype=t)),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.mu)
        count = state.count
        first = count == 0
        t = jnp.maximum(count, 1)
        refresh = jnp.logical_and(~first, count % precondition_frequency == 0)
        branch = jnp.where(first, 1, jnp.where(refresh, 2, 0))

        def one(g, mu, nu, stats, bases):
            if g is None:
                return None, None, None, None, None
            dtype = numerics.compute_dtype(nu.dtype)  # the statistics' dtype
            gc = g.astype(dtype)
            mu_c, nu_c = mu.astype(dtype), nu.astype(dtype)
            rotated = _rotate(gc, bases, transpose=True)
            new_mu = b1 * mu_c + (1 - b1) * gc
            new_nu = b2 * nu_c + (1 - b2) * rotated * rotated
            direction = _rotate(new_mu, bases, transpose=True) / (jnp.sqrt(new_nu) + eps)
            out = _rotate(direction, bases, transpose=False)
            if correct_bias:
                tc = t.astype(dtype)
                out = out * (jnp.sqrt(1 - b2**tc) / (1 - b1**tc))
            if normalize_grads:
                out = out / (1e-30 + jnp.sqrt(jnp.mean(out * out)))
            new_mu = jnp.where(first, mu_c, new_mu)
            new_nu = jnp.where(first, nu_c, new_nu)
            out = jnp.where(first, jnp.zeros_like(out), out)
            new_stats = tuple(
                None if s is None else beta_s * s + (1 - beta_s) * _gram(gc, i)
                for i, s in enumerate(stats)
            )

            def keep(s, q, v):
                return q, v

            def initial(s, q, v):
                return tuple(None if x is None else _eigenbasis(x) for x in s), v

            new_bases, new_nu = jax.lax.switch(
                branch, [keep, initial, _refreshed], new_stats, bases, new_nu
            )
            return (
                out.astype(g.dtype),
                new_mu.astype(mu.dtype),
                new_nu.astype(nu.dtype),
                new_stats,
                new_bases,
            )

        def batched(g, mu, nu, stats, bases, dims):
            if g is None or dims is None:
                return one(g, mu, nu, stats, bases)
            batch = _matrix_batch(fn, g, dims)
            (g, unflatten), (mu, _), (nu, _) = (_as_batched_matrices(x, dims) for x in (g, mu, nu))

            def flat(ss):
                return tuple(None if x is None else x.reshape(-1, *x.shape[-2:]) for x in ss)

            out, mu, nu, stats, bases = jax.vmap(one)(g, mu, nu, flat(stats), flat(bases))

            def unflat(ss):
                return tuple(None if x is None else x.reshape(*batch, *x.shape[-2:]) for x in ss)

            return unflatten(out), unflatten(mu), unflatten(nu), unflat(stats), unflat(bases)

        treedef = jax.tree.structure(updates, is_leaf=is_none)
        leaves = [
            batched(*args)
            for args in zip(
                treedef.flatten_up_to(updates),
                treedef.flatten_up_to(state.mu),
                treedef.flatten_up_to(state.nu),
                treedef.flatten_up_to(state.stats),
                treedef.flatten_up_to(state.bases),
                treedef.flatten_up_to(_resolve_prefix(dimension_numbers, updates)),
                strict=True,
            )
        ]
        out, mu, nu, new_stats, new_bases = (
            treedef.unflatten([leaf[k] for leaf in leaves]) for k in range(5)
        )
        return out, ScaleBySoapState(
            count=numerics.safe_increment(count), mu=mu, nu=nu, stats=new_stats, bases=new_bases
        )

    return GradientTransformation(init_fn, update_fn)


def soap(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.95,
    b2: float = 0.95,
    shampoo_beta: float | None = None,
    eps: float = 1e-8,
    weight_decay: ScalarOrSchedule = 0.01,
    mask: MaskOrFn = None,
    precondition_frequency: int = 10,
    max_precond_dim: int = 10000,
    precondition_1d: bool = False,
    normalize_grads: bool = False,
    correct_bias: bool = True,
    mu_dtype: Any = None,
    *,
    dimension_numbers: Any = None,
) -> GradientTransformation:
    r"""SOAP: ``chain(scale_by_soap(...), add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate))``.

    The equations are on `scale_by_soap`. The defaults are the reference's (lr 3e-3
    there). The decay is gradtx's decoupled one, :math:`\theta \leftarrow \theta -
    \eta(U_t + \lambda\theta)`; the reference decays after the step,
    :math:`\theta \leftarrow (\theta - \eta U_t)(1 - \eta\lambda)`, which differs by
    :math:`\eta^2\lambda U_t`, and skips the decay on the first call as well.

    Args:
      learning_rate: a number or a schedule.
      b1: first-moment decay, in [0, 1). Default 0.95.
      b2: second-moment decay, in [0, 1). Default 0.95.
      shampoo_beta: decay of Shampoo's statistics, or ``None`` for ``b2``.
      eps: added to the root second moment, >= 0. Default 1e-8.
      weight_decay: decoupled weight decay, >= 0, or a schedule. Default 0.01.
      mask: which parameters decay (see `gradtx.add_decayed_weights`).
      precondition_frequency: steps between basis refreshes, >= 1. Default 10.
      max_precond_dim: the longest axis that gets a basis, >= 0. Default 10000.
      precondition_1d: rotate vectors too. Default False.
      normalize_grads: divide each leaf's update by its RMS. Default False.
      correct_bias: apply Adam's bias corrections. Default True.
      mu_dtype: storage dtype of the first moment.
      dimension_numbers: stacked or scanned layers as batches of matrices, see
        `scale_by_soap`. Default None.

    Returns:
      A `GradientTransformation` (a `chain`).

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda w: jnp.sum((w - 1.0) ** 2)
      >>> tx = gradtx.contrib.soap(0.1, weight_decay=0.0)
      >>> params = jnp.zeros((2, 3))
      >>> state, update = tx.init(params), jax.jit(tx.update)
      >>> for _ in range(20):
      ...     u, state = update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> bool(f(params) < f(jnp.zeros((2, 3))))
      True

    References:
      Vyas et al., "SOAP: Improving and Stabilizing Shampoo using Adam", ICLR 2025,
      https://arxiv.org/abs/2409.11321
    """
    return chain(
        scale_by_soap(
            b1,
            b2,
            shampoo_beta,
            eps,
            precondition_frequency,
            max_precond_dim,
            precondition_1d,
            normalize_grads,
            correct_bias,
            mu_dtype,
            dimension_numbers=dimension_numbers,
        ),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
