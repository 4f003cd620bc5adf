"""PSGD Kron: SGD preconditioned by a learned Kronecker product of triangular factors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular

from gradtx import tree as tree_lib
from gradtx.contrib import _util
from gradtx.core import (
    GradientTransformationExtraArgs,
    Updates,
    chain,
    numerics,
    validate,
)
from gradtx.transforms import add_decayed_weights, scale_by_learning_rate

__all__ = ["ScaleByKronState", "kron", "scale_by_kron"]

_MEMORY_MODES = (None, "one_diag", "all_diag")
_SEED = 5318008  # psgd_jax's fixed seed


class ScaleByKronState(NamedTuple):
    """State of `scale_by_kron`.

    Attributes:
      count: updates so far (int32, saturating).
      mu: momentum, dtype ``mu_dtype`` or the parameter's.
      Qs_preconditioners: per parameter, the list of its factors :math:`Q_i` (an upper
        triangular ``[d_i, d_i]`` matrix, or a ``[d_i]`` vector for a diagonal factor;
        one scalar for a scalar parameter; a leading axis for scanned layers), dtype
        ``precond_dtype`` or the parameter's compute dtype (float32 at least). The
        name is psgd_jax's.
    """

    count: jax.Array
    mu: Updates
    Qs_preconditioners: Any


def _anneal(n: jax.Array) -> jax.Array:
    """psgd_jax's default probability: 1 for 250 steps, then ``exp(-0.001 (n - 250))``
    down to 0.03 (reached near step 3750)."""
    p = jnp.exp(-0.001 * (jnp.asarray(n, jnp.float32) - 250.0))
    return jnp.minimum(jnp.maximum(p, 0.03), 1.0)


def _diagonal_axes(shape, max_size, min_ndim, memory_save_mode) -> list[bool]:
    """Which axes of a leaf get a diagonal factor (static, from the shape)."""
    diag = [memory_save_mode == "all_diag"] * len(shape)
    if memory_save_mode == "one_diag" and shape:
        diag[int(np.argsort(shape)[::-1][0])] = True
    return [
        d or size == 1 or size > max_size or len(shape) < min_ndim
        for d, size in zip(diag, shape, strict=True)
    ]


def _along(x: jax.Array, i: int, f: Callable[[jax.Array], jax.Array]) -> jax.Array:
    """Apply ``f`` to ``x`` unfolded as a ``[d_i, rest]`` matrix along axis ``i``."""
    moved = jnp.moveaxis(x, i, 0)
    out = f(moved.reshape(moved.shape[0], -1)).reshape(moved.shape)
    return jnp.moveaxis(out, 0, i)


def _times_q(qs, x):
    """``x`` multiplied by :math:`Q_i` along every axis (:math:`A = Q \\cdot G`)."""
    if x.ndim == 0:
        return qs[0] * x
    for i, q in enumerate(qs):
        x = _along(x, i, (lambda m, q=q: q[:, None] * m) if q.ndim < 2 else (lambda m, q=q: q @ m))
    return x


def _solve_qt(qs, x):
    """``x`` multiplied by :math:`Q_i^{-\\top}` along every axis (triangular solves)."""
    if x.ndim == 0:
        return x / qs[0]
    for i, q in enumerate(qs):
        if q.ndim < 2:
            x = _along(x, i, lambda m, q=q: m / q[:, None])
        else:
            x = _along(x, i, lambda m, q=q: solve_triangular(q, m, trans="T", lower=False))
    return x


def _precondition(qs, x):
    """:math:`P G` with :math:`P = \\bigotimes_i Q_i^\\top Q_i`."""
    if x.ndim == 0:
        return qs[0] * qs[0] * x
    for i, q in enumerate(qs):
        if q.ndim < 2:
            x = _along(x, i, lambda m, q=q: (q * q)[:, None] * m)
        else:
            x = _along(x, i, lambda m, q=q: q.T @ (q @ m))
    return x


def _gram(x: jax.Array, i: int, diagonal: bool) -> jax.Array:
    """``X_(i) X_(i)^T`` of the mode-``i`` unfolding (its diagonal if ``diagonal``)."""
    if x.ndim == 0:
        return x * x
    m = jnp.moveaxis(x, i, 0).reshape(x.shape[i], -1)
    return jnp.sum(m * m, axis=1) if diagonal else m @ m.T


def _spectral_lower_bound(a: jax.Array) -> jax.Array:
    """A cheap lower bound of the spectral norm of a symmetric ``a``: one power step from
    its row of largest norm (psgd_jax's ``_norm_lower_bound``; within sqrt(2) of it)."""
    top = jnp.max(jnp.abs(a))
    safe = jnp.where(top > 0, top, 1)
    a = a / safe
    x = a @ a[jnp.argmax(jnp.sum(a * a, axis=1))]
    x = x / jnp.where(jnp.any(x != 0), jnp.linalg.norm(x), 1)
    return jnp.where(top > 0, top * jnp.linalg.norm(a @ x), top)


def _new_factors(qs, g, v, lr):
    """One PSGD step on the factors: :math:`A = Q G`, :math:`B = Q^{-\\top} V`, and per
    axis :math:`Q_i \\leftarrow Q_i - \\eta\\, \\mathrm{triu}(AA^\\top - BB^\\top) Q_i /
    \\lVert AA^\\top + BB^\\top \\rVert` (elementwise, by the max norm, for a diagonal
    :math:`Q_i`)."""
    a, b = _times_q(qs, g), _solve_qt(qs, v)
    new = []
    for i, q in enumerate(qs):
        diagonal = q.ndim < 2
        t1, t2 = _gram(a, i, diagonal), _gram(b, i, diagonal)
        tiny = jnp.finfo(q.dtype).tiny
        if diagonal:
            step = lr * (t1 - t2) * q / (jnp.max(jnp.abs(t1 + t2)) + tiny)
        else:
            step = lr * jnp.triu(t1 - t2) / (_spectral_lower_bound(t1 + t2) + tiny) @ q
        new.append((q - step).astype(q.dtype))
    return new


def _balance(qs):
    """Rescale the factors to equal max-norms (their product, the preconditioner, kept)."""
    if len(qs) < 2:
        return qs
    norms = jnp.stack([jnp.max(jnp.abs(q)) for q in qs])
    mean = jnp.prod(norms) ** (1 / len(qs))
    return [q * (mean / n).astype(q.dtype) for q, n in zip(qs, norms, strict=True)]


def _trust_region(x: jax.Array, scale: Any) -> jax.Array:
    """psgd_jax's soft clip: ``s (0.1 sign(y) log(1 + |y|) + 0.9 tanh(y))``, ``y = x/s``."""
    y = x / scale
    return scale * (0.1 * jnp.sign(y) * jnp.log1p(jnp.abs(y)) + 0.9 * jnp.tanh(y))


def scale_by_kron(
    b1: float = 0.9,
    preconditioner_update_probability: Any = None,
    max_size_triangular: int = 8192,
    min_ndim_triangular: int = 2,
    memory_save_mode: str | None = None,
    mu_dtype: Any = None,
    precond_dtype: Any = None,
    *,
    precond_lr: float = 0.1,
    precond_init_scale: float = 1.0,
    trust_region_scale: float = 1.5,
    scanned_layers: Any = None,
    key: jax.Array | None = None,
) -> GradientTransformationExtraArgs:
    r"""Rescale updates by PSGD Kron: a Kronecker-factored preconditioner fitted online.

    For a leaf of shape :math:`(d_1, \dots, d_k)` the preconditioner is
    :math:`P = \bigotimes_i Q_i^\top Q_i`, each :math:`Q_i` upper triangular (or diagonal:
    for dimensions of size 1 or above ``max_size_triangular``, leaves of rank below
    ``min_ndim_triangular``, and per ``memory_save_mode``). With
    :math:`\hat m_t` the bias-corrected momentum:

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad \hat m_t = m_t/(1-\beta_1^t) \\
        \text{with probability } p_t:\ A = Q \hat m_t,\ B = Q^{-\top} V,\
        V \sim \mathcal N(0, I) \\
        \qquad Q_i \leftarrow Q_i - \eta_P\, \frac{\mathrm{triu}(A_{(i)} A_{(i)}^\top -
        B_{(i)} B_{(i)}^\top)}{\lVert A_{(i)} A_{(i)}^\top + B_{(i)} B_{(i)}^\top
        \rVert_2^{\text{lb}}}\, Q_i \\
        u_t = s\, \tau\big(P \hat m_t / s\big), \quad
        \tau(y) = 0.1\, \mathrm{sign}(y) \log(1 + |y|) + 0.9 \tanh(y)

    where :math:`X_{(i)}` is the mode-:math:`i` unfolding, the norm a cheap lower bound
    of the spectral norm, and a diagonal factor uses the elementwise form divided by the
    max norm. Its fixed point :math:`P\, \mathbb E[\hat m \hat m^\top] P = I` makes
    :math:`P` the inverse square root of the (Kronecker-factored) gradient covariance.
    With probability 0.01 per refresh the factors are rebalanced to equal max-norms
    first. The refresh runs inside `jax.lax.cond`; the coin flips and :math:`V` come
    from ``fold_in(key, count)``, so a run is reproducible and resumes exactly.

    This follows psgd_jax's ``kron.py`` (github.com/evanatyourservice/psgd_jax,
    ``scale_by_kron``; Li's PSGD, github.com/lixilinx/psgd_torch) in its defaults and
    steps (its random draws differ). Complex parameters are not supported.

    Args:
      b1: momentum decay, in [0, 1). Default 0.9.
      preconditioner_update_probability: the probability :math:`p_t` of a refresh, a
        number in [0, 1] or a schedule of the step; default ``None``: psgd_jax's anneal,
        1 for 250 steps then :math:`e^{-0.001 (t - 250)}`, at least 0.03.
      max_size_triangular: dimensions above this get a diagonal factor, >= 0. Default
        8192.
      min_ndim_triangular: leaves of lower rank get diagonal factors only, >= 0.
        Default 2 (vectors are diagonal).
      memory_save_mode: ``None`` (all triangular, subject to the above), ``"one_diag"``
        (the largest dimension of each leaf diagonal) or ``"all_diag"``.
      mu_dtype: storage dtype of the momentum.
      precond_dtype: storage dtype of the factors (default: the leaf's compute dtype).
      precond_lr: the factors' step :math:`\eta_P`, > 0. Default 0.1.
      precond_init_scale: :math:`P_0 = c\, I` for ``precond_init_scale`` :math:`c`, > 0.
        Default 1.
      trust_region_scale: the soft clip's scale :math:`s`, > 0. Default 1.5.
      scanned_layers: ``None`` or a tree of bools (the params' structure): a ``True``
        leaf is a stack of layers along axis 0, each with its own factors (``vmap``).
      key: the PRNG key (default ``jax.random.PRNGKey(5318008)``, psgd_jax's seed).

    Returns:
      A `GradientTransformationExtraArgs` with `ScaleByKronState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above or an unknown
        ``memory_save_mode``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.scale_by_kron()
      >>> params = {"w": jnp.ones((3, 4)), "b": jnp.ones(4)}
      >>> state = tx.init(params)
      >>> [q.shape for q in state.Qs_preconditioners["w"]]  # two triangular factors
      [(3, 3), (4, 4)]
      >>> [q.shape for q in state.Qs_preconditioners["b"]]  # a vector: diagonal
      [(4,)]

    References:
      Li, "Preconditioned Stochastic Gradient Descent", IEEE TNNLS 2018,
      https://arxiv.org/abs/1512.04202; Li, "Preconditioner on Matrix Lie Group for
      SGD", ICLR 2019, https://arxiv.org/abs/1809.10232
    """
    fn = "scale_by_kron"
    validate.decay(fn, b1=b1)
    prob = preconditioner_update_probability
    if prob is None:
        prob = _anneal
    elif not callable(prob):
        validate.unit(fn, preconditioner_update_probability=prob)
    validate.integer(fn, "max_size_triangular", max_size_triangular, 0)
    validate.integer(fn, "min_ndim_triangular", min_ndim_triangular, 0)
    validate.one_of(fn, "memory_save_mode", memory_save_mode, _MEMORY_MODES)
    validate.positive(
        fn,
        precond_lr=precond_lr,
        precond_init_scale=precond_init_scale,
        trust_region_scale=trust_region_scale,
    )
    mu_dtype = numerics.canonicalize_dtype(mu_dtype)
    precond_dtype = numerics.canonicalize_dtype(precond_dtype)
    base_key = key if key is not None else jax.random.PRNGKey(_SEED)

    def factor_dtype(x):
        return precond_dtype or numerics.compute_dtype(jnp.result_type(x))

    def scanned_flags(tree):
        if scanned_layers is None:
            return [False] * len(jax.tree.leaves(tree))
        flags = jax.tree.structure(tree).flatten_up_to(scanned_layers)
        return [bool(f) for f in flags]

    def init_leaf(x, scanned):
        if not numerics.is_float(x):
            return []
        shape = np.shape(x)[1:] if scanned else np.shape(x)
        dtype = factor_dtype(x)
        if not shape:
            qs = [jnp.full((), precond_init_scale, dtype)]
        else:
            scale = precond_init_scale ** (1 / len(shape))
            diag = _diagonal_axes(shape, max_size_triangular, min_ndim_triangular, memory_save_mode)
            qs = [
                scale * (jnp.ones(d, dtype) if is_diag else jnp.eye(d, dtype=dtype))
                for d, is_diag in zip(shape, diag, strict=True)
            ]
        if scanned:
            qs = [jnp.repeat(q[None], np.shape(x)[0], axis=0) for q in qs]
        # A factor shaped like its parameter (a vector's, a square matrix's) is built on
        # it, so it inherits the parameter's sharding.
        return [jnp.zeros_like(x, q.dtype) + q if q.shape == np.shape(x) else q for q in qs]

    def init_fn(params):
        leaves, treedef = jax.tree.flatten(params)
        qs = [init_leaf(x, s) for x, s in zip(leaves, scanned_flags(params), strict=True)]
        return ScaleByKronState(
            count=numerics.zero_count(),
            mu=tree_lib.zeros_like(params, dtype=mu_dtype),
            Qs_preconditioners=treedef.unflatten(qs),
        )

    def per_layer(f, scanned):
        return jax.vmap(f) if scanned else f

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.mu)
        count = numerics.safe_increment(state.count)
        mu = numerics.update_moment(updates, state.mu, b1, 1)
        m_hat = numerics.bias_correction(mu, b1, count)
        leaves, treedef = jax.tree.flatten(updates)
        m_leaves = treedef.flatten_up_to(m_hat)
        qs = [list(q) for q in treedef.flatten_up_to(state.Qs_preconditioners)]
        flags = scanned_flags(updates)
        floats = [i for i, x in enumerate(leaves) if numerics.is_float(x)]
        cdts = {i: jnp.dtype(factor_dtype(leaves[i])) for i in floats}
        m_c = {
            i: m_leaves[i].astype(numerics.common_dtype(cdts[i], m_leaves[i].dtype)) for i in floats
        }

        k_update, k_balance, k_probe = jax.random.split(
            jax.random.fold_in(base_key, state.count), 3
        )
        p = _util.value(prob, count)
        do_update = jax.random.uniform(k_update, dtype=jnp.float32) < jnp.asarray(p, jnp.float32)

        def refresh(all_qs):
            all_qs = jax.lax.cond(
                jax.random.uniform(k_balance, dtype=jnp.float32) < 0.01,
                lambda q: [per_layer(_balance, flags[i])(q[j]) for j, i in enumerate(floats)],
                lambda q: q,
                all_qs,
            )
            out = []
            for j, i in enumerate(floats):
                g = m_c[i]
                v = jax.random.normal(jax.random.fold_in(k_probe, i), g.shape, g.dtype)
                step = per_layer(lambda q, g, v: _new_factors(q, g, v, precond_lr), flags[i])
                out.append(step(all_qs[j], g, v))
            return out

        float_qs = [[q.astype(cdts[i]) for q in qs[i]] for i in floats]
        float_qs = jax.lax.cond(do_update, refresh, lambda q: q, float_qs)
        new_leaves = [jnp.zeros_like(x) for x in leaves]
        for j, i in enumerate(floats):
            pg = per_layer(_precondition, flags[i])(float_qs[j], m_c[i])
            pg = _trust_region(pg, numerics.as_dtype(trust_region_scale, jnp.result_type(pg)))
            new_leaves[i] = pg.astype(leaves[i].dtype)
            qs[i] = [q.astype(old.dtype) for q, old in zip(float_qs[j], qs[i], strict=True)]
        return treedef.unflatten(new_leaves), ScaleByKronState(
            count=count,
            mu=tree_lib.cast_like(mu, state.mu),
            Qs_preconditioners=treedef.unflatten(qs),
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


def kron(
    learning_rate: Any = 0.001,
    b1: float = 0.9,
    weight_decay: float = 0.0,
    weight_decay_mask: Any = None,
    preconditioner_update_probability: Any = None,
    max_size_triangular: int = 8192,
    min_ndim_triangular: int = 2,
    memory_save_mode: str | None = None,
    mu_dtype: Any = None,
    precond_dtype: Any = None,
    *,
    precond_lr: float = 0.1,
    precond_init_scale: float = 1.0,
    trust_region_scale: float = 1.5,
    scanned_layers: Any = None,
    key: jax.Array | None = None,
) -> GradientTransformationExtraArgs:
    r"""PSGD Kron with decoupled weight decay (psgd_jax's ``kron``).

    ``chain(scale_by_kron(...), add_decayed_weights(weight_decay, weight_decay_mask),
    scale_by_learning_rate(learning_rate))``; see `scale_by_kron` for the equations
    and the other arguments.

    Args:
      learning_rate: a number or a schedule. Default 0.001.
      b1: momentum decay, in [0, 1). Default 0.9.
      weight_decay: decoupled weight decay, >= 0. Default 0.
      weight_decay_mask: mask of the weight decay.
      preconditioner_update_probability: see `scale_by_kron`.
      max_size_triangular: see `scale_by_kron`. Default 8192.
      min_ndim_triangular: see `scale_by_kron`. Default 2.
      memory_save_mode: see `scale_by_kron`.
      mu_dtype: storage dtype of the momentum.
      precond_dtype: storage dtype of the factors.
      precond_lr: the factors' step, > 0. Default 0.1.
      precond_init_scale: the initial preconditioner's scale, > 0. Default 1.
      trust_region_scale: the soft clip's scale, > 0. Default 1.5.
      scanned_layers: see `scale_by_kron`.
      key: see `scale_by_kron`.

    Returns:
      A `GradientTransformationExtraArgs` (a `chain` whose first state is
      `ScaleByKronState`).

    Raises:
      ValueError: for hyperparameters outside their ranges.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda w: jnp.sum((w - jnp.arange(6.0).reshape(2, 3)) ** 2)
      >>> tx = gradtx.contrib.kron(0.1)
      >>> w = jnp.zeros((2, 3))
      >>> state, step = tx.init(w), jax.jit(tx.update)
      >>> for _ in range(100):
      ...     u, state = step(jax.grad(f)(w), state, w)
      ...     w = gradtx.apply_updates(w, u)
      >>> bool(f(w) < 0.1 * f(jnp.zeros((2, 3))))
      True

    References:
      Li, "Preconditioned Stochastic Gradient Descent", IEEE TNNLS 2018,
      https://arxiv.org/abs/1512.04202
    """
    validate.non_negative("kron", weight_decay=weight_decay)
    return chain(
        scale_by_kron(
            b1,
            preconditioner_update_probability,
            max_size_triangular,
            min_ndim_triangular,
            memory_save_mode,
            mu_dtype,
            precond_dtype,
            precond_lr=precond_lr,
            precond_init_scale=precond_init_scale,
            trust_region_scale=trust_region_scale,
            scanned_layers=scanned_layers,
            key=key,
        ),
        add_decayed_weights(weight_decay, weight_decay_mask),
        scale_by_learning_rate(learning_rate),
    )
