"""Estimators of the Hessian's diagonal and trace from matrix-vector products."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradtx import tree as tree_lib
from gradtx.core import numerics, validate
from gradtx.second_order import _operators
from gradtx.second_order._products import hvp_operator

__all__ = ["gauss_newton_bartlett_diag", "hessian_diag", "hutchinson_trace", "hutchpp_trace"]

_HIGHEST = jax.lax.Precision.HIGHEST
_BLOCK_ENTRIES = 2**16  # default probe block: batch_size * n at most this many entries


def hessian_diag(
    f: Callable[..., jax.Array],
    params: Any,
    *args: Any,
    key: jax.Array | None = None,
    num_samples: int = 100,
) -> Any:
    """The diagonal of the Hessian, exactly (small problems) or by Hutchinson's estimator.

    With ``key=None`` the diagonal is exact: one Hessian-vector product per coordinate,
    :math:`H_{ii} = e_i^\\top H e_i`, so :math:`n` products in all. With a ``key`` it is
    Hutchinson's unbiased estimate from Rademacher probes :math:`z` (entries :math:`\\pm 1`),

    .. math::
        \\operatorname{diag}(H) = \\mathbb{E}_z[z \\odot H z] \\approx
        \\frac{1}{S} \\sum_{s=1}^{S} z_s \\odot H z_s ,

    whose variance per coordinate is :math:`\\sum_{j \\ne i} H_{ij}^2 / S`.

    Args:
      f: a scalar function ``f(params, *args)``.
      params: the point.
      *args: further positional arguments of ``f``.
      key: a PRNG key for the random estimate, or ``None`` (the default) for the exact
        diagonal.
      num_samples: number of probes :math:`S` for the estimate, an integer >= 1. Default
        100. Ignored when ``key`` is ``None``.

    Returns:
      A pytree shaped like ``params`` (same dtypes) holding the diagonal.

    Raises:
      ValueError: if ``num_samples < 1``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from gradtx import second_order
      >>> f = lambda p: jnp.sum(p["w"] ** 4) + p["b"] ** 2
      >>> p = {"w": jnp.array([1.0, 2.0]), "b": jnp.asarray(0.5)}
      >>> d = second_order.hessian_diag(f, p)
      >>> d["w"].tolist(), float(d["b"])
      ([12.0, 48.0], 2.0)
      >>> # f is separable, so every Hutchinson probe is exact here:
      >>> e = second_order.hessian_diag(f, p, key=jax.random.key(0), num_samples=3)
      >>> e["w"].tolist()
      [12.0, 48.0]

    References:
      Bekas, Kokiopoulou and Saad, "An estimator for the diagonal of a matrix", Applied
      Numerical Mathematics 2007, https://doi.org/10.1016/j.apnum.2007.01.003
    """
    validate.integer("hessian_diag", "num_samples", num_samples, 1)
    matvec = hvp_operator(f, params, *args)
    dtype = numerics.widest_float_dtype(params)
    if key is None:
        return tree_lib.cast_like(_exact_diag(matvec, params, dtype), params)

    def body(i, acc):
        z = _operators.random_vector(jax.random.fold_in(key, i), params, dtype, "rademacher")
        hz = _operators.apply(matvec, z, dtype)
        return jax.tree.map(lambda a, u, w: a + u * w, acc, z, hz)

    zeros = jax.tree.map(lambda x: jnp.zeros(np.shape(x), dtype), params)
    total = jax.lax.fori_loop(0, num_samples, body, zeros)
    return tree_lib.cast_like(tree_lib.scale(1.0 / num_samples, total), params)


def gauss_newton_bartlett_diag(
    logits_fn: Callable[..., jax.Array],
    params: Any,
    *args: Any,
    key: jax.Array,
) -> Any:
    r"""Gauss-Newton-Bartlett estimate of a softmax model's Gauss-Newton diagonal.

    For a model whose ``logits_fn(params, *args)`` returns logits of shape
    ``(..., classes)`` (``B`` rows in all, the product of the leading axes), draw labels
    from the model's own softmax, :math:`\hat y_b \sim \operatorname{softmax}(f_b)`
    (``jax.random.categorical(key, logits)``), and take the gradient of the mean
    cross-entropy on them:

    .. math::
        \hat g = \nabla_\theta \frac{1}{B} \sum_{b=1}^{B}
        \ell_{ce}(f_b(\theta), \hat y_b), \qquad \hat h = B\, \hat g \odot \hat g .

    By Bartlett's second identity :math:`\mathbb{E}_{\hat y}[\nabla \ell\, \nabla
    \ell^\top] = J^\top (\operatorname{diag}(p) - p p^\top) J`, the Gauss-Newton
    matrix of the cross-entropy, so :math:`\hat h` is an (always non-negative) estimate of
    its diagonal from one backward pass. The labels carry no gradient.

    Args:
      logits_fn: ``logits_fn(params, *args) -> (..., classes)`` logits.
      params: the point.
      *args: further positional arguments of ``logits_fn`` (e.g. the inputs).
      key: a PRNG key for the sampled labels (no default).

    Returns:
      A pytree shaped like ``params`` (same dtypes).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from gradtx import second_order
      >>> x = jnp.array([[1.0, 0.0], [0.0, 1.0]])
      >>> h = second_order.gauss_newton_bartlett_diag(
      ...     lambda w, x: x @ w, jnp.zeros((2, 3)), x, key=jax.random.key(0))
      >>> h.shape, bool((h >= 0).all())
      ((2, 3), True)

    References:
      Liu et al., "Sophia: A Scalable Stochastic Second-order Optimizer for Language
      Model Pre-training", ICLR 2024, Algorithm 2, https://arxiv.org/abs/2305.14342
    """
    logits = jax.lax.stop_gradient(logits_fn(params, *args))
    dtype = numerics.widest_float_dtype(logits)
    labels = jax.random.categorical(key, logits.astype(dtype), axis=-1)
    batch = math.prod(np.shape(logits)[:-1])

    def sampled_loss(p):
        log_p = jax.nn.log_softmax(logits_fn(p, *args).astype(dtype), axis=-1)
        picked = jnp.take_along_axis(log_p, labels[..., None], axis=-1)
        return -jnp.sum(picked) / batch

    grads = jax.grad(sampled_loss)(params)
    return jax.tree.map(
        lambda g, x: (batch * (g.astype(dtype) ** 2)).astype(jnp.result_type(x)), grads, params
    )


def _exact_diag(matvec: Callable[[Any], Any], params: Any, dtype: Any) -> Any:
    """``H_ii`` for every coordinate, one product per coordinate (batched per leaf)."""
    leaves, treedef = jax.tree.flatten(params)
    zeros = [jnp.zeros(np.shape(x), dtype) for x in leaves]
    out = []
    for index, leaf in enumerate(leaves):
        size = math.prod(np.shape(leaf))

        def column(i, index=index, leaf=leaf, size=size):
            basis = list(zeros)
            basis[index] = jax.nn.one_hot(i, size, dtype=dtype).reshape(np.shape(leaf))
            hv = matvec(jax.tree.unflatten(treedef, basis))
            return jax.tree.leaves(hv)[index].reshape(-1)[i].astype(dtype)

        if size == 0:
            out.append(jnp.zeros(np.shape(leaf), dtype))
            continue
        diag = jax.lax.map(column, jnp.arange(size), batch_size=min(size, 64))
        out.append(diag.reshape(np.shape(leaf)))
    return jax.tree.unflatten(treedef, out)


def hutchinson_trace(
    matvec: Any,
    like: Any,
    key: jax.Array,
    num_samples: int = 100,
    *,
    batch_size: int | None = None,
) -> jax.Array:
    """Hutchinson's unbiased estimate of :math:`\\operatorname{tr}(A)` from Rademacher probes.

    .. math::
        \\operatorname{tr}(A) = \\mathbb{E}_z[z^\\top A z] \\approx
        \\frac{1}{S} \\sum_{s=1}^{S} z_s^\\top A z_s, \\qquad z_s \\in \\{-1, +1\\}^n ,

    with variance :math:`2 (\\|A\\|_F^2 - \\sum_i A_{ii}^2) / S` for symmetric :math:`A`.
    The probes go through the operator in blocks of ``batch_size`` (``jax.vmap`` of the
    operator inside a ``lax.map``), so small operators are applied to many probes at once
    and large ones to a few at a time. Probe ``s`` is drawn from ``fold_in(key, s)``
    whatever the block size, so the estimate does not depend on ``batch_size``.

    Args:
      matvec: the operator, ``v -> A v`` on pytrees (e.g. ``hvp_operator(f, params)``), or
        a dense ``(n, n)`` array.
      like: a pytree with the structure and shapes of the vectors (e.g. ``params``); a
        1-D array of length ``n`` for a dense operator.
      key: a PRNG key (no default: the caller owns the randomness).
      num_samples: number of probes :math:`S`, an integer >= 1. Default 100.
      batch_size: probes per block, an integer >= 1; memory grows with it (the operator
        runs on a batch). Default ``None``: as many as keep a block under
        :math:`2^{16}` entries (all of them for small problems, one for models of
        :math:`2^{16}` parameters and more).

    Returns:
      A scalar in the vectors' compute dtype (float32, or float64 for float64 vectors).

    Raises:
      ValueError: if ``num_samples < 1`` or ``batch_size < 1``.
      TypeError: if ``matvec`` is neither callable nor a square matrix.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from gradtx import second_order
      >>> a = jnp.diag(jnp.array([1.0, 2.0, 3.0]))
      >>> float(second_order.hutchinson_trace(a, jnp.zeros(3), jax.random.key(0), 10))
      6.0

    References:
      Hutchinson, "A stochastic estimator of the trace of the influence matrix for
      Laplacian smoothing splines", Communications in Statistics 1989,
      https://doi.org/10.1080/03610918908812806
    """
    fn = "hutchinson_trace"
    validate.integer(fn, "num_samples", num_samples, 1)
    matvec = _operators.as_matvec(matvec, fn)
    dtype = numerics.widest_float_dtype(like)
    n = _operators.dimension(like)
    batch = _batch_size(fn, batch_size, num_samples, n)
    op = _operators.flat_operator(matvec, like, dtype)

    def quadratic_form(i):
        z = _operators.rademacher_flat(jax.random.fold_in(key, i), n, dtype)
        return jnp.vdot(z, op(z), precision=_HIGHEST)

    forms = jax.lax.map(quadratic_form, jnp.arange(num_samples), batch_size=batch)
    return jnp.sum(forms) / num_samples


def _batch_size(fn: str, batch_size: int | None, num: int, n: int) -> int:
    """The validated block size; ``None`` -> blocks of at most ``2**16`` entries."""
    if batch_size is None:
        return max(1, min(num, _BLOCK_ENTRIES // max(n, 1)))
    validate.integer(fn, "batch_size", batch_size, 1)
    return min(batch_size, num)


def hutchpp_trace(
    matvec: Any,
    like: Any,
    key: jax.Array,
    num_matvecs: int = 99,
    *,
    batch_size: int | None = None,
) -> jax.Array:
    """Hutch++: trace estimate with a low-rank deflation, variance :math:`O(1/m^2)`.

    Split the budget of :math:`m` products into three thirds of :math:`k = \\lfloor m/3
    \\rfloor`. Sketch the range with :math:`k` probes, :math:`Q = \\operatorname{orth}(A S)`;
    take the trace on that range exactly and Hutchinson's estimate on its complement:

    .. math::
        \\widehat{\\operatorname{tr}}(A) = \\operatorname{tr}(Q^\\top A Q) + \\frac{1}{k}
        \\sum_{s=1}^{k} g_s^\\top (I - QQ^\\top) A (I - QQ^\\top) g_s .

    For a matrix with a decaying spectrum (a Hessian) the top of the spectrum is caught
    exactly and the error falls like :math:`1/m` rather than :math:`1/\\sqrt{m}`.
    Internally the probes and :math:`Q` are flat ``(k, n)`` matrices of the compute dtype
    (the leaves concatenated), :math:`Q` comes from a Householder QR of :math:`A S`, and
    the products run in blocks of ``batch_size`` through ``jax.vmap`` of the operator
    (the operator itself is called on pytrees): :math:`A S` and :math:`A G` in one pass,
    then :math:`A Q`, and :math:`A (I - QQ^\\top) G = A G - (A Q) Q^\\top G` by linearity.

    Args:
      matvec: ``v -> A v`` on pytrees, or a dense ``(n, n)`` array.
      like: a pytree shaped like the vectors.
      key: a PRNG key.
      num_matvecs: the budget :math:`m`, an integer >= 3. Default 99.
      batch_size: probes per block, an integer >= 1, as in `hutchinson_trace`. Default
        ``None``: blocks of at most :math:`2^{16}` entries.

    Returns:
      A scalar in the vectors' compute dtype.

    Raises:
      ValueError: if ``num_matvecs < 3`` or ``batch_size < 1``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from gradtx import second_order
      >>> a = jnp.diag(jnp.array([5.0, 1.0, 0.5, 0.1]))
      >>> round(float(second_order.hutchpp_trace(a, jnp.zeros(4), jax.random.key(0), 12)), 4)
      6.6

    References:
      Meyer, Musco, Musco and Woodruff, "Hutch++: Optimal Stochastic Trace Estimation",
      SOSA 2021, https://arxiv.org/abs/2010.09649
    """
    fn = "hutchpp_trace"
    validate.integer(fn, "num_matvecs", num_matvecs, 3)
    matvec = _operators.as_matvec(matvec, fn)
    dtype = numerics.widest_float_dtype(like)
    n = _operators.dimension(like)
    k = num_matvecs // 3
    batch = _batch_size(fn, batch_size, 2 * k, n)
    op = _operators.flat_operator(matvec, like, dtype)
    # All 2k probes from one draw of random bits: the sketch S and the Hutchinson part G.
    sketch, g = _operators.rademacher_flat(key, n, dtype, (2, k))

    def apply(rows):
        return jax.lax.map(op, rows, batch_size=min(batch, rows.shape[0]))

    # A S and A G in one pass; then A (I - Q Q^T) G = A G - (A Q) Q^T G needs no product.
    a_sketch, a_g = jnp.split(apply(jnp.concatenate([sketch, g])), 2)
    basis = _orthonormal_rows(a_sketch)
    a_basis = apply(basis)
    exact = jnp.sum(basis * a_basis)
    coefficients = jnp.matmul(g, basis.T, precision=_HIGHEST)
    g = g - jnp.matmul(coefficients, basis, precision=_HIGHEST)
    a_g = a_g - jnp.matmul(coefficients, a_basis, precision=_HIGHEST)
    rest = jnp.sum(g * a_g)
    return exact + rest / k


def _orthonormal_rows(rows: jax.Array) -> jax.Array:
    """An orthonormal basis (rows) of the span of the ``k`` rows of ``rows`` (``(k, n)``).

    A reduced QR of the transpose (Householder): when the rows are dependent the extra
    basis vectors are still orthonormal, which leaves Hutch++ exact and unbiased.
    """
    k, n = rows.shape
    if n < k:  # more rows than dimensions: the whole space
        return jnp.eye(n, dtype=rows.dtype)
    q, _ = jnp.linalg.qr(rows.T)
    return q.T
