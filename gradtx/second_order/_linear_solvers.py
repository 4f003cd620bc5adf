"""Linear solvers on pytrees: conjugate gradients and the Steihaug trust-region solver.

`cg_solve` solves :math:`(A + \\lambda I) x = b` for a symmetric operator given as a
matvec; `steihaug_cg` minimizes the quadratic model :math:`g^\\top p + \\tfrac12 p^\\top B p`
inside a ball; `newton_direction` applies `cg_solve` to the Hessian of a function. The
minimizers built on them (`newton_cg`, `trust_region` ...) are in ``_minimizers.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import numerics, validate
from gradtx.second_order import _operators
from gradtx.second_order._products import hvp_operator

__all__ = ["CGResult", "SteihaugResult", "cg_solve", "newton_direction", "steihaug_cg"]


class CGResult(NamedTuple):
    """Result of `cg_solve` (and `newton_direction`).

    Attributes:
      x: the approximate solution (dtypes of ``b``).
      residual_norm: :math:`\\|b - (A + \\lambda I) x\\|` (recurrence value).
      num_steps: CG iterations taken (int32).
      negative_curvature: whether a direction with :math:`p^\\top (A+\\lambda I) p \\le 0`
        was met (boolean scalar).
      direction: the first such direction :math:`p` (zeros when there was none).
      curvature: its Rayleigh quotient :math:`p^\\top (A+\\lambda I) p / p^\\top p` (0
        when there was none).
    """

    x: Any
    residual_norm: jax.Array
    num_steps: jax.Array
    negative_curvature: jax.Array
    direction: Any
    curvature: jax.Array


class SteihaugResult(NamedTuple):
    """Result of `steihaug_cg`.

    Attributes:
      step: the step :math:`p` with :math:`\\|p\\| \\le \\Delta` (dtypes of ``grad``).
      model_decrease: :math:`-(g^\\top p + \\tfrac12 p^\\top B p) \\ge 0`, the decrease the
        quadratic model predicts.
      num_steps: CG iterations taken (int32).
      hit_boundary: whether the step lies on the trust-region boundary.
      negative_curvature: whether CG met a direction of non-positive curvature.
      residual_norm: :math:`\\|g + B p\\|`.
    """

    step: Any
    model_decrease: jax.Array
    num_steps: jax.Array
    hit_boundary: jax.Array
    negative_curvature: jax.Array
    residual_norm: jax.Array


def cg_solve(
    matvec: Any,
    b: Any,
    *,
    x0: Any = None,
    damping: float = 0.0,
    tol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    negative_curvature: str = "stop",
) -> CGResult:
    """Conjugate gradients for :math:`(A + \\lambda I) x = b`, with negative-curvature detection.

    .. math::
        \\alpha_k = \\frac{r_k^\\top r_k}{p_k^\\top (A+\\lambda I) p_k}, \\quad
        x_{k+1} = x_k + \\alpha_k p_k, \\quad r_{k+1} = r_k - \\alpha_k (A+\\lambda I) p_k,
        \\quad p_{k+1} = r_{k+1} + \\frac{r_{k+1}^\\top r_{k+1}}{r_k^\\top r_k} p_k ,

    until :math:`\\|r_k\\| \\le \\max(\\mathrm{tol}\\,\\|b\\|, \\mathrm{atol})` or ``maxiter``
    iterations (a ``lax.while_loop``). CG needs :math:`A + \\lambda I` positive definite;
    a Hessian need not be. When a search direction has :math:`p^\\top(A+\\lambda I)p \\le 0`
    the result records it (``negative_curvature``, ``direction``, ``curvature``) and, with
    ``negative_curvature="stop"``, returns the last iterate before it: the truncated-Newton
    rule, which keeps ``x`` a descent direction when ``b`` is a negative gradient. With
    ``"continue"`` it keeps iterating (plain CG on an indefinite system, which converges
    to :math:`A^{-1} b` when no step is exactly singular).

    Args:
      matvec: ``v -> A v`` on pytrees (e.g. ``hvp_operator(f, params)``) or a dense array.
      b: the right-hand side (a pytree; a 1-D array for a dense operator).
      x0: the initial guess (default zeros).
      damping: :math:`\\lambda \\ge 0` added to the diagonal. Default 0.
      tol: relative residual tolerance, >= 0. Default 1e-5.
      atol: absolute residual tolerance, >= 0. Default 0.
      maxiter: iteration bound, an integer >= 0 (static); default the dimension of ``b``.
      negative_curvature: ``"stop"`` (default) or ``"continue"``.

    Returns:
      A `CGResult`; ``x`` has the dtypes of ``b`` (the iteration runs in at least
      float32).

    Raises:
      ValueError: for arguments out of range.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import second_order
      >>> a = jnp.array([[4.0, 1.0], [1.0, 3.0]])
      >>> res = second_order.cg_solve(a, jnp.array([1.0, 2.0]))
      >>> res.x.round(4).tolist(), int(res.num_steps)
      ([0.0909, 0.6364], 2)

    References:
      Hestenes and Stiefel, "Methods of Conjugate Gradients for Solving Linear Systems",
      J. Res. Nat. Bur. Standards 1952, https://doi.org/10.6028/jres.049.044;
      Nocedal and Wright, "Numerical Optimization", 2nd ed., Springer 2006, Alg. 5.2 and 7.1.
    """
    fn = "cg_solve"
    validate.non_negative(fn, damping=damping, tol=tol, atol=atol)
    validate.one_of(fn, "negative_curvature", negative_curvature, ("stop", "continue"))
    if maxiter is None:
        maxiter = _operators.dimension(b)
    validate.integer(fn, "maxiter", maxiter, 0)
    matvec = _operators.as_matvec(matvec, fn)
    stop_on_negative = negative_curvature == "stop"
    dtype = numerics.widest_float_dtype(b)
    b_c = tree_lib.cast(b, dtype)

    def op(v):
        return numerics.axpy(damping, v, _operators.apply(matvec, v, dtype))

    if x0 is None:
        x = jax.tree.map(jnp.zeros_like, b_c)
        r = b_c
    else:
        x = tree_lib.cast(x0, dtype)
        r = jax.tree.map(jnp.subtract, b_c, op(x))
    rs = _operators.dot(r, r, dtype)
    threshold = jnp.maximum(tol * _operators.norm(b_c, dtype), atol)
    zero = jnp.zeros([], dtype)

    def cond(carry):
        k, _, _, _, rs, done, *_ = carry
        return (k < maxiter) & ~done & (jnp.sqrt(rs) > threshold)

    def body(carry):
        k, x, r, p, rs, done, neg, direction, curvature = carry
        ap = op(p)
        pap = _operators.dot(p, ap, dtype)
        pp = _operators.dot(p, p, dtype)
        is_neg = pap <= 0
        first = is_neg & ~neg
        direction = tree_lib.where(first, p, direction)
        curvature = jnp.where(first, pap / jnp.where(pp > 0, pp, 1.0), curvature)
        neg = neg | is_neg
        halt = (is_neg & stop_on_negative) | (pap == 0)
        alpha = rs / jnp.where(pap == 0, 1.0, pap)
        x_new = numerics.axpy(alpha, p, x)
        r_new = numerics.axpy(-alpha, ap, r)
        rs_new = _operators.dot(r_new, r_new, dtype)
        beta = rs_new / jnp.where(rs > 0, rs, 1.0)
        p_new = numerics.axpy(beta, p, r_new)
        x, r, p = (
            tree_lib.where(halt, old, new) for old, new in ((x, x_new), (r, r_new), (p, p_new))
        )
        rs = jnp.where(halt, rs, rs_new)
        k = jnp.where(halt, k, k + 1)
        return k, x, r, p, rs, halt, neg, direction, curvature

    init = (
        jnp.zeros([], jnp.int32),
        x,
        r,
        r,
        rs,
        jnp.zeros([], bool),
        jnp.zeros([], bool),
        jax.tree.map(jnp.zeros_like, b_c),
        zero,
    )
    k, x, _, _, rs, _, neg, direction, curvature = jax.lax.while_loop(cond, body, init)
    return CGResult(
        x=tree_lib.cast_like(x, b),
        residual_norm=jnp.sqrt(rs),
        num_steps=k,
        negative_curvature=neg,
        direction=tree_lib.cast_like(direction, b),
        curvature=curvature,
    )


def steihaug_cg(
    matvec: Any,
    grad: Any,
    radius: Any,
    *,
    tol: Any = None,
    maxiter: int | None = None,
) -> SteihaugResult:
    """Steihaug-Toint CG for the trust-region subproblem.

    Approximately solves

    .. math::
        \\min_p\\; m(p) = g^\\top p + \\tfrac12 p^\\top B p \\quad
        \\text{s.t.}\\quad \\|p\\| \\le \\Delta

    by CG from :math:`p = 0` on :math:`B p = -g`, stopping (Nocedal and Wright, Alg. 7.2)
    when the residual is below tolerance, when a direction of non-positive curvature
    appears (then it moves to the boundary along it, choosing the root with the lower model
    value), or when an iterate would leave the region (then it stops on the boundary).
    The model decrease is tracked from the CG residual, with no extra product.

    Args:
      matvec: ``v -> B v`` on pytrees or a dense array (need not be positive definite).
      grad: :math:`g`, a pytree.
      radius: :math:`\\Delta > 0` (a scalar, may be traced).
      tol: residual tolerance relative to :math:`\\|g\\|`; default ``None`` uses the
        forcing term :math:`\\min(0.5, \\sqrt{\\|g\\|})` (superlinear convergence).
      maxiter: iteration bound (static), default the dimension.

    Returns:
      A `SteihaugResult`; ``step`` has the dtypes of ``grad``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import second_order
      >>> b = jnp.diag(jnp.array([1.0, -1.0]))
      >>> res = second_order.steihaug_cg(b, jnp.array([1.0, 0.0]), 0.5)
      >>> res.step.round(4).tolist(), bool(res.hit_boundary)
      ([-0.5, 0.0], True)

    References:
      Steihaug, "The Conjugate Gradient Method and Trust Regions in Large Scale
      Optimization", SIAM J. Numer. Anal. 1983, https://doi.org/10.1137/0720042;
      Nocedal and Wright, "Numerical Optimization", 2nd ed., Springer 2006, Alg. 7.2.
    """
    fn = "steihaug_cg"
    if maxiter is None:
        maxiter = _operators.dimension(grad)
    validate.integer(fn, "maxiter", maxiter, 0)
    if tol is not None:
        validate.non_negative(fn, tol=tol)
    matvec = _operators.as_matvec(matvec, fn)
    dtype = numerics.widest_float_dtype(grad)
    g = tree_lib.cast(grad, dtype)
    radius = jnp.asarray(radius).astype(dtype)
    gnorm = _operators.norm(g, dtype)
    if tol is None:
        threshold = jnp.minimum(0.5, jnp.sqrt(gnorm)) * gnorm
    else:
        threshold = tol * gnorm
    rs = gnorm**2

    def cond(carry):
        k, _, _, _, rs, done, *_ = carry
        return (k < maxiter) & ~done & (jnp.sqrt(rs) > threshold)

    def body(carry):
        k, z, r, d, rs, _, boundary, neg = carry
        bd = _operators.apply(matvec, d, dtype)
        dbd = _operators.dot(d, bd, dtype)
        is_neg = dbd <= 0
        alpha = rs / jnp.where(is_neg, 1.0, dbd)
        z_try = numerics.axpy(alpha, d, z)
        outside = _operators.norm(z_try, dtype) >= radius
        tau = _boundary_tau(z, d, r, dbd, radius, is_neg, dtype)
        to_boundary = is_neg | outside
        step = jnp.where(to_boundary, tau, alpha)
        z = numerics.axpy(step, d, z)
        r_new = numerics.axpy(step, bd, r)
        rs_new = _operators.dot(r_new, r_new, dtype)
        beta = rs_new / jnp.where(rs > 0, rs, 1.0)
        d = numerics.axpy(beta, d, tree_lib.scale(-1.0, r_new))
        return k + 1, z, r_new, d, rs_new, to_boundary, to_boundary, neg | is_neg

    false = jnp.zeros([], bool)
    init = (
        jnp.zeros([], jnp.int32),
        jax.tree.map(jnp.zeros_like, g),
        g,
        tree_lib.scale(-1.0, g),
        rs,
        false,
        false,
        false,
    )
    k, z, r, _, rs, _, boundary, neg = jax.lax.while_loop(cond, body, init)
    # m(p) = g.p + p.Bp / 2 = (g + r).p / 2, since r = g + B p.
    decrease = -0.5 * _operators.dot(jax.tree.map(jnp.add, g, r), z, dtype)
    return SteihaugResult(
        step=tree_lib.cast_like(z, grad),
        model_decrease=decrease,
        num_steps=k,
        hit_boundary=boundary,
        negative_curvature=neg,
        residual_norm=jnp.sqrt(rs),
    )


def _boundary_tau(z, d, r, dbd, radius, is_neg, dtype):
    """``tau`` with ``||z + tau d|| = radius``; for negative curvature the root (of two)
    with the lower model value, otherwise the positive root."""
    zd = _operators.dot(z, d, dtype)
    dd = _operators.dot(d, d, dtype)
    zz = _operators.dot(z, z, dtype)
    dd_safe = jnp.where(dd > 0, dd, 1.0)
    disc = jnp.sqrt(jnp.maximum(zd**2 + dd * (radius**2 - zz), 0.0))
    tau_pos = (-zd + disc) / dd_safe
    tau_neg = (-zd - disc) / dd_safe
    rd = _operators.dot(r, d, dtype)

    def model(tau):  # m(z + tau d) - m(z)
        return tau * rd + 0.5 * tau**2 * dbd

    pick_neg = is_neg & (model(tau_neg) < model(tau_pos))
    return jnp.where(pick_neg, tau_neg, tau_pos)


def newton_direction(
    f: Callable[..., jax.Array],
    params: Any,
    *args: Any,
    damping: float = 0.0,
    tol: float = 1e-5,
    maxiter: int | None = None,
    negative_curvature: str = "continue",
) -> CGResult:
    """The (damped) Newton step :math:`p = -(\\nabla^2 f + \\lambda I)^{-1} \\nabla f`, by CG.

    Solves :math:`(H + \\lambda I) p = -\\nabla f(\\theta)` with `cg_solve` on
    Hessian-vector products (nothing dense). ``params + p`` is the Newton iterate: it is
    the minimizer of a strictly convex quadratic, and it is attracted to *any* critical
    point, saddles included, because the pure Newton step ignores the sign of the
    curvature (hence the default ``negative_curvature="continue"``; use ``"stop"`` for the
    truncated step of `newton_cg`, or `saddle_free_newton`).

    Args:
      f: a scalar function ``f(params, *args)``.
      params: the point.
      *args: further positional arguments of ``f``.
      damping: :math:`\\lambda \\ge 0`. Default 0.
      tol: CG relative tolerance, >= 0. Default 1e-5.
      maxiter: CG iteration bound (static); default the number of parameters.
      negative_curvature: ``"continue"`` (default) or ``"stop"``, see `cg_solve`.

    Returns:
      A `CGResult` whose ``x`` is the step :math:`p` (structure and dtypes of ``params``).

    Raises:
      ValueError: for arguments out of range.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import second_order
      >>> f = lambda x: jnp.sum(jnp.array([1.0, 10.0]) * (x - 1.0) ** 2)
      >>> x = jnp.zeros(2)
      >>> (x + second_order.newton_direction(f, x).x).round(4).tolist()
      [1.0, 1.0]
    """
    grad = jax.grad(f)(params, *args)
    return cg_solve(
        hvp_operator(f, params, *args),
        tree_lib.scale(-1.0, grad),
        damping=damping,
        tol=tol,
        maxiter=maxiter,
        negative_curvature=negative_curvature,
    )
