"""Estimators of the Hessian's diagonal and trace from matrix-vector products."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradtx.core import _validate
from gradtx.second_order import _operators
from gradtx.second_order._products import hvp_operator

__all__ = ["hessian_diag", "hutchinson_trace", "hutchpp_trace"]


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
    _validate.integer("hessian_diag", "num_samples", num_samples, 1)
    matvec = hvp_operator(f, params, *args)
    dtype = _operators.compute_dtype(params)
    if key is None:
        return _operators.cast_like(_exact_diag(matvec, params, dtype), params)

    def body(i, acc):
        z = _operators.random_vector(jax.random.fold_in(key, i), params, dtype, "rademacher")
        hz = _operators.apply(matvec, z, dtype)
        return jax.tree.map(lambda a, u, w: a + u * w, acc, z, hz)

    zeros = jax.tree.map(lambda x: jnp.zeros(np.shape(x), dtype), params)
    total = jax.lax.fori_loop(0, num_samples, body, zeros)
    return _operators.cast_like(_operators.scal(1.0 / num_samples, total), params)


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


def hutchinson_trace(matvec: Any, like: Any, key: jax.Array, num_samples: int = 100) -> jax.Array:
    """Hutchinson's unbiased estimate of :math:`\\operatorname{tr}(A)` from Rademacher probes.

    .. math::
        \\operatorname{tr}(A) = \\mathbb{E}_z[z^\\top A z] \\approx
        \\frac{1}{S} \\sum_{s=1}^{S} z_s^\\top A z_s, \\qquad z_s \\in \\{-1, +1\\}^n ,

    with variance :math:`2 (\\|A\\|_F^2 - \\sum_i A_{ii}^2) / S` for symmetric :math:`A`.
    The probes are drawn one at a time inside a ``lax.fori_loop`` (memory of one vector).

    Args:
      matvec: the operator, ``v -> A v`` on pytrees (e.g. ``hvp_operator(f, params)``), or
        a dense ``(n, n)`` array.
      like: a pytree with the structure and shapes of the vectors (e.g. ``params``); a
        1-D array of length ``n`` for a dense operator.
      key: a PRNG key (no default: the caller owns the randomness).
      num_samples: number of probes :math:`S`, an integer >= 1. Default 100.

    Returns:
      A scalar in the vectors' compute dtype (float32, or float64 for float64 vectors).

    Raises:
      ValueError: if ``num_samples < 1``.
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
    _validate.integer(fn, "num_samples", num_samples, 1)
    matvec = _operators.as_matvec(matvec, fn)
    dtype = _operators.compute_dtype(like)

    def body(i, acc):
        z = _operators.random_vector(jax.random.fold_in(key, i), like, dtype, "rademacher")
        return acc + _operators.dot(z, _operators.apply(matvec, z, dtype), dtype)

    total = jax.lax.fori_loop(0, num_samples, body, jnp.zeros([], dtype))
    return total / num_samples


def hutchpp_trace(matvec: Any, like: Any, key: jax.Array, num_matvecs: int = 99) -> jax.Array:
    """Hutch++: trace estimate with a low-rank deflation, variance :math:`O(1/m^2)`.

    Split the budget of :math:`m` products into three thirds of :math:`k = \\lfloor m/3
    \\rfloor`. Sketch the range with :math:`k` probes, :math:`Q = \\operatorname{orth}(A S)`;
    take the trace on that range exactly and Hutchinson's estimate on its complement:

    .. math::
        \\widehat{\\operatorname{tr}}(A) = \\operatorname{tr}(Q^\\top A Q) + \\frac{1}{k}
        \\sum_{s=1}^{k} g_s^\\top (I - QQ^\\top) A (I - QQ^\\top) g_s .

    For a matrix with a decaying spectrum (a Hessian) the top of the spectrum is caught
    exactly and the error falls like :math:`1/m` rather than :math:`1/\\sqrt{m}`.
    :math:`Q` is built by Gram-Schmidt on stacked pytrees (nothing is raveled).

    Args:
      matvec: ``v -> A v`` on pytrees, or a dense ``(n, n)`` array.
      like: a pytree shaped like the vectors.
      key: a PRNG key.
      num_matvecs: the budget :math:`m`, an integer >= 3. Default 99.

    Returns:
      A scalar in the vectors' compute dtype.

    Raises:
      ValueError: if ``num_matvecs < 3``.

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
    _validate.integer(fn, "num_matvecs", num_matvecs, 3)
    matvec = _operators.as_matvec(matvec, fn)
    dtype = _operators.compute_dtype(like)
    k = num_matvecs // 3
    key_s, key_g = jax.random.split(key)

    def probe(key_, i):
        return _operators.random_vector(jax.random.fold_in(key_, i), like, dtype, "rademacher")

    def apply(v):
        return _operators.apply(matvec, v, dtype)

    sketch = jax.lax.map(lambda i: apply(probe(key_s, i)), jnp.arange(k))
    basis = _orthonormal_rows(sketch, like, dtype, k)
    a_basis = jax.lax.map(lambda i: apply(_operators.stack_get(basis, i)), jnp.arange(k))
    exact = jnp.sum(
        jax.vmap(
            lambda i: _operators.dot(
                _operators.stack_get(basis, i), _operators.stack_get(a_basis, i), dtype
            )
        )(jnp.arange(k))
    )

    def body(i, acc):
        g = _operators.orthogonalize(basis, probe(key_g, i), dtype, k)
        return acc + _operators.dot(g, _operators.orthogonalize(basis, apply(g), dtype, k), dtype)

    rest = jax.lax.fori_loop(0, k, body, jnp.zeros([], dtype))
    return exact + rest / k


def _orthonormal_rows(stack: Any, like: Any, dtype: Any, k: int) -> Any:
    """Orthonormalize the ``k`` stacked vectors (Gram-Schmidt, twice); dependent rows -> 0."""
    del like

    def body(i, basis):
        v = _operators.stack_get(stack, i)
        scale = _operators.norm(v, dtype)
        v = _operators.orthogonalize(basis, v, dtype, k)
        nrm = _operators.norm(v, dtype)
        keep = nrm > 16 * jnp.finfo(dtype).eps * scale
        inv = jnp.where(keep, 1.0 / jnp.where(keep, nrm, 1.0), 0.0)
        return _operators.stack_set(basis, i, _operators.scal(inv, v))

    zeros = jax.tree.map(jnp.zeros_like, stack)
    return jax.lax.fori_loop(0, k, body, zeros)
