"""Linear solvers and second-order minimizers on pytrees.

`cg_solve` and `steihaug_cg` are the linear-algebra kernels; `newton_direction`,
`newton_cg`, `trust_region`, `saddle_free_newton` and `negative_curvature_direction`
apply them to a function ``f(params, *args)`` through Hessian-vector products. The
minimizers are full ``lax.while_loop`` runs with a static iteration bound, for small and
medium problems and for experiments; the matching gradient transforms, which take one
step per ``update``, are in ``_transforms.py``.
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
from gradtx.second_order._spectrum import lanczos_run, top_eigenvalues, tridiagonal_eigh

__all__ = [
    "CGResult",
    "MinimizeResult",
    "NegativeCurvatureResult",
    "SteihaugResult",
    "TrustRegionResult",
    "cg_solve",
    "negative_curvature_direction",
    "newton_cg",
    "newton_direction",
    "saddle_free_newton",
    "steihaug_cg",
    "trust_region",
]

_ARMIJO_C1 = 1e-4


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


class MinimizeResult(NamedTuple):
    """Result of `newton_cg` and `saddle_free_newton`.

    Attributes:
      params: the final point (the input's structure and dtypes).
      value: :math:`f` there.
      grad_norm: :math:`\\|\\nabla f\\|` there.
      num_steps: outer iterations taken (int32).
      converged: whether ``grad_norm <= gtol``.
    """

    params: Any
    value: jax.Array
    grad_norm: jax.Array
    num_steps: jax.Array
    converged: jax.Array


class TrustRegionResult(NamedTuple):
    """Result of `trust_region`: as `MinimizeResult`, plus the final ``radius``."""

    params: Any
    value: jax.Array
    grad_norm: jax.Array
    num_steps: jax.Array
    converged: jax.Array
    radius: jax.Array


class NegativeCurvatureResult(NamedTuple):
    """Result of `negative_curvature_direction`.

    Attributes:
      direction: a unit vector :math:`u` (dtypes of ``params``) with
        :math:`\\nabla f^\\top u \\le 0`.
      curvature: :math:`u^\\top H u`, the smallest Ritz value.
      residual: :math:`\\|H u - \\theta u\\|`.
      found: whether ``curvature < 0``.
    """

    direction: Any
    curvature: jax.Array
    residual: jax.Array
    found: jax.Array


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
    dtype = _operators.compute_dtype(b)
    b_c = _operators.cast(b, dtype)

    def op(v):
        return _operators.axpy(damping, v, _operators.apply(matvec, v, dtype))

    if x0 is None:
        x = jax.tree.map(jnp.zeros_like, b_c)
        r = b_c
    else:
        x = _operators.cast(x0, dtype)
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
        x_new = _operators.axpy(alpha, p, x)
        r_new = _operators.axpy(-alpha, ap, r)
        rs_new = _operators.dot(r_new, r_new, dtype)
        beta = rs_new / jnp.where(rs > 0, rs, 1.0)
        p_new = _operators.axpy(beta, p, r_new)
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
        x=_operators.cast_like(x, b),
        residual_norm=jnp.sqrt(rs),
        num_steps=k,
        negative_curvature=neg,
        direction=_operators.cast_like(direction, b),
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
    dtype = _operators.compute_dtype(grad)
    g = _operators.cast(grad, dtype)
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
        z_try = _operators.axpy(alpha, d, z)
        outside = _operators.norm(z_try, dtype) >= radius
        tau = _boundary_tau(z, d, r, dbd, radius, is_neg, dtype)
        to_boundary = is_neg | outside
        step = jnp.where(to_boundary, tau, alpha)
        z = _operators.axpy(step, d, z)
        r_new = _operators.axpy(step, bd, r)
        rs_new = _operators.dot(r_new, r_new, dtype)
        beta = rs_new / jnp.where(rs > 0, rs, 1.0)
        d = _operators.axpy(beta, d, _operators.scal(-1.0, r_new))
        return k + 1, z, r_new, d, rs_new, to_boundary, to_boundary, neg | is_neg

    false = jnp.zeros([], bool)
    init = (
        jnp.zeros([], jnp.int32),
        jax.tree.map(jnp.zeros_like, g),
        g,
        _operators.scal(-1.0, g),
        rs,
        false,
        false,
        false,
    )
    k, z, r, _, rs, _, boundary, neg = jax.lax.while_loop(cond, body, init)
    # m(p) = g.p + p.Bp / 2 = (g + r).p / 2, since r = g + B p.
    decrease = -0.5 * _operators.dot(jax.tree.map(jnp.add, g, r), z, dtype)
    return SteihaugResult(
        step=_operators.cast_like(z, grad),
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
        _operators.scal(-1.0, grad),
        damping=damping,
        tol=tol,
        maxiter=maxiter,
        negative_curvature=negative_curvature,
    )


def newton_cg(
    f: Callable[..., jax.Array],
    params: Any,
    *args: Any,
    num_steps: int = 50,
    damping: float = 0.0,
    gtol: float = 1e-5,
    cg_tol: float | None = None,
    cg_maxiter: int | None = None,
    max_backtracks: int = 30,
) -> MinimizeResult:
    """Minimize ``f`` by line-search Newton-CG (truncated Newton).

    Each iteration solves :math:`(H_k + \\lambda I) p = -g_k` by `cg_solve` to the
    relative tolerance :math:`\\eta_k = \\min(0.5, \\sqrt{\\|g_k\\|})` (or ``cg_tol``),
    stopping early on negative curvature: then the last CG iterate is used, or
    :math:`-g_k` if that was the first direction (Nocedal and Wright, Alg. 7.1). The step
    length comes from a backtracking Armijo search (:math:`\\alpha = 1, \\tfrac12, \\dots`,
    :math:`c_1 = 10^{-4}`), so a full Newton step is taken whenever it decreases ``f``
    enough:

    .. math::
        \\theta_{k+1} = \\theta_k + \\alpha_k p_k, \\qquad
        f(\\theta_k + \\alpha_k p_k) \\le f(\\theta_k) + c_1 \\alpha_k g_k^\\top p_k .

    The loop is a ``lax.while_loop`` that stops at ``num_steps`` or when
    :math:`\\|g\\| \\le` ``gtol``.

    Args:
      f: a scalar function ``f(params, *args)``.
      params: the starting point.
      *args: further positional arguments of ``f``.
      num_steps: maximum outer iterations, an integer >= 0. Default 50.
      damping: :math:`\\lambda \\ge 0`. Default 0.
      gtol: gradient-norm tolerance, >= 0. Default 1e-5.
      cg_tol: fixed CG relative tolerance (default ``None``: the forcing term above).
      cg_maxiter: CG iteration bound (static); default the number of parameters.
      max_backtracks: halvings of the step before giving up on an iteration, an integer
        >= 0. Default 30.

    Returns:
      A `MinimizeResult`.

    Raises:
      ValueError: for arguments out of range.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import second_order
      >>> f = lambda x: jnp.sum((x - 2.0) ** 4) + jnp.sum((x - 2.0) ** 2)
      >>> res = second_order.newton_cg(f, jnp.zeros(3))
      >>> res.params.round(3).tolist(), bool(res.converged)
      ([2.0, 2.0, 2.0], True)

    References:
      Dembo and Steihaug, "Truncated-Newton algorithms for large-scale unconstrained
      optimization", Mathematical Programming 1983, https://doi.org/10.1007/BF02592055;
      Nocedal and Wright, "Numerical Optimization", 2nd ed., Springer 2006, Alg. 7.1.
    """
    fn = "newton_cg"
    validate.integer(fn, "num_steps", num_steps, 0)
    validate.integer(fn, "max_backtracks", max_backtracks, 0)
    validate.non_negative(fn, damping=damping, gtol=gtol, cg_tol=cg_tol)
    dtype = _operators.compute_dtype(params)

    def direction(x, g, gnorm):
        tol = jnp.minimum(0.5, jnp.sqrt(gnorm)) if cg_tol is None else cg_tol
        res = cg_solve(
            hvp_operator(f, x, *args),
            _operators.scal(-1.0, g),
            damping=damping,
            tol=tol,
            maxiter=cg_maxiter,
            negative_curvature="stop",
        )
        first = res.negative_curvature & (res.num_steps == 0)
        return tree_lib.where(first, _operators.scal(-1.0, g), res.x)

    return _line_search_minimize(f, params, args, direction, num_steps, gtol, max_backtracks, dtype)


def saddle_free_newton(
    f: Callable[..., jax.Array],
    params: Any,
    *args: Any,
    num_steps: int = 50,
    num_lanczos_steps: int = 20,
    damping: float = 1e-3,
    gtol: float = 1e-5,
    max_backtracks: int = 30,
) -> MinimizeResult:
    """Minimize ``f`` by saddle-free Newton: Newton with :math:`|H|` in a Krylov subspace.

    Newton's step :math:`-H^{-1} g` points *towards* a saddle along directions of negative
    curvature. The saddle-free step rescales by the absolute values of the eigenvalues
    instead, so it moves away from the saddle along those directions. :math:`|H|` is
    formed in the Krylov subspace of `lanczos` started from the gradient
    (:math:`Q_m^\\top H Q_m = T_m = S \\Theta S^\\top`, which contains :math:`g`):

    .. math::
        p = -Q_m S\\, (|\\Theta| + \\lambda I)^{-1} S^\\top Q_m^\\top g ,

    a descent direction (:math:`g^\\top p < 0`) whatever the curvature, followed by a
    backtracking Armijo search as in `newton_cg`. At an exact critical point
    (:math:`g = 0`) the step is zero; combine with `negative_curvature_direction` to
    leave one.

    Args:
      f: a scalar function ``f(params, *args)``.
      params: the starting point.
      *args: further positional arguments of ``f``.
      num_steps: maximum outer iterations, an integer >= 0. Default 50.
      num_lanczos_steps: Krylov dimension :math:`m`, an integer >= 1 (clamped to the
        number of parameters). Default 20.
      damping: :math:`\\lambda \\ge 0` added to :math:`|\\Theta|`. Default 1e-3.
      gtol: gradient-norm tolerance, >= 0. Default 1e-5.
      max_backtracks: step halvings per iteration, an integer >= 0. Default 30.

    Returns:
      A `MinimizeResult`.

    Raises:
      ValueError: for arguments out of range.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import second_order
      >>> f = lambda p: p[0] ** 2 - p[1] ** 2  # a saddle at the origin
      >>> res = second_order.saddle_free_newton(f, jnp.array([0.1, 0.01]), num_steps=3)
      >>> bool(res.value < f(jnp.array([0.1, 0.01])) - 0.01)  # it moved away, downhill
      True

    References:
      Dauphin, Pascanu, Gulcehre, Cho, Ganguli and Bengio, "Identifying and attacking the
      saddle point problem in high-dimensional non-convex optimization", NeurIPS 2014,
      https://arxiv.org/abs/1406.2572
    """
    fn = "saddle_free_newton"
    validate.integer(fn, "num_steps", num_steps, 0)
    validate.integer(fn, "num_lanczos_steps", num_lanczos_steps, 1)
    validate.integer(fn, "max_backtracks", max_backtracks, 0)
    validate.non_negative(fn, damping=damping, gtol=gtol)
    dtype = _operators.compute_dtype(params)

    def direction(x, g, gnorm):
        del gnorm
        d, _ = saddle_free_direction(
            hvp_operator(f, x, *args), _operators.cast(g, dtype), num_lanczos_steps, damping
        )
        return _operators.cast_like(_operators.scal(-1.0, d), g)

    return _line_search_minimize(f, params, args, direction, num_steps, gtol, max_backtracks, dtype)


def saddle_free_direction(
    matvec: Any, grad: Any, num_lanczos_steps: int, damping: Any
) -> tuple[Any, jax.Array]:
    """``(d, ritz_values)`` with :math:`d = Q S (|\\Theta| + \\lambda)^{-1} S^\\top Q^\\top g`
    (positive: a step is its negative), in the compute dtype of ``grad``; zero eigenvalues
    with zero damping are dropped (pseudo-inverse)."""
    dtype = _operators.compute_dtype(grad)
    g = _operators.cast(grad, dtype)
    alphas, betas, basis = lanczos_run(matvec, g, num_lanczos_steps, dtype)
    theta, s = tridiagonal_eigh(alphas, betas)
    m = theta.shape[0]
    coords = jnp.matmul(s.T, _operators.stack_dots(basis, g, dtype, m), precision="highest")
    denom = jnp.abs(theta) + jnp.asarray(damping).astype(dtype)
    scaled = jnp.where(denom > 0, coords / jnp.where(denom > 0, denom, 1.0), 0.0)
    d = _operators.stack_combine(jnp.matmul(s, scaled, precision="highest"), basis)
    return d, theta


def trust_region(
    f: Callable[..., jax.Array],
    params: Any,
    *args: Any,
    num_steps: int = 100,
    initial_radius: float = 1.0,
    max_radius: float = 1e3,
    eta: float = 0.15,
    gtol: float = 1e-5,
    cg_tol: float | None = None,
    cg_maxiter: int | None = None,
) -> TrustRegionResult:
    """Minimize ``f`` by the Newton-CG trust-region method (Steihaug-CG subproblems).

    Each iteration minimizes the quadratic model inside a ball with `steihaug_cg`,
    compares the actual and the predicted decrease,

    .. math::
        \\rho_k = \\frac{f(\\theta_k) - f(\\theta_k + p_k)}{m_k(0) - m_k(p_k)} ,

    takes the step if :math:`\\rho_k > \\eta`, and updates the radius (Nocedal and Wright,
    Alg. 4.1): :math:`\\Delta_{k+1} = \\Delta_k / 4` if :math:`\\rho_k < 1/4`;
    :math:`\\min(2\\Delta_k, \\Delta_{max})` if :math:`\\rho_k > 3/4` and the step reached
    the boundary; :math:`\\Delta_k` otherwise. Negative curvature is followed to the
    boundary, so the method leaves saddles. A ``lax.while_loop`` runs until
    ``num_steps`` or :math:`\\|g\\| \\le` ``gtol``.

    Args:
      f: a scalar function ``f(params, *args)``.
      params: the starting point.
      *args: further positional arguments of ``f``.
      num_steps: maximum iterations, an integer >= 0. Default 100.
      initial_radius: :math:`\\Delta_0 > 0`. Default 1.
      max_radius: :math:`\\Delta_{max} \\ge \\Delta_0`. Default 1000.
      eta: acceptance threshold, in [0, 0.25). Default 0.15.
      gtol: gradient-norm tolerance, >= 0. Default 1e-5.
      cg_tol: Steihaug-CG relative tolerance (default ``None``: forcing term
        :math:`\\min(0.5, \\sqrt{\\|g\\|})`).
      cg_maxiter: Steihaug-CG iteration bound (static); default the number of parameters.

    Returns:
      A `TrustRegionResult`.

    Raises:
      ValueError: for arguments out of range.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from gradtx import second_order
      >>> rosen = lambda p: (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2
      >>> res = second_order.trust_region(rosen, jnp.array([-1.2, 1.0]), gtol=1e-4)
      >>> res.params.round(3).tolist()
      [1.0, 1.0]

    References:
      Nocedal and Wright, "Numerical Optimization", 2nd ed., Springer 2006, Alg. 4.1 and
      7.2; Steihaug, "The Conjugate Gradient Method and Trust Regions in Large Scale
      Optimization", SIAM J. Numer. Anal. 1983, https://doi.org/10.1137/0720042
    """
    fn = "trust_region"
    validate.integer(fn, "num_steps", num_steps, 0)
    validate.positive(fn, initial_radius=initial_radius)
    validate.interval(fn, "max_radius", max_radius, initial_radius)
    validate.interval(fn, "eta", eta, 0.0, 0.25, high_open=True)
    validate.non_negative(fn, gtol=gtol, cg_tol=cg_tol)
    dtype = _operators.compute_dtype(params)
    value_and_grad = _value_and_grad(f, args, dtype)
    fx, g = value_and_grad(params)

    def cond(carry):
        k, _, _, _, gnorm, _ = carry
        return (k < num_steps) & (gnorm > gtol)

    def body(carry):
        k, x, fx, g, _, radius = carry
        sub = steihaug_cg(hvp_operator(f, x, *args), g, radius, tol=cg_tol, maxiter=cg_maxiter)
        x_try = _move(x, sub.step, 1.0)
        f_try, g_try = value_and_grad(x_try)
        rho = trust_ratio(fx - f_try, sub.model_decrease)
        radius, accept = update_radius(radius, rho, sub.hit_boundary, eta, max_radius)
        x = tree_lib.where(accept, x_try, x)
        g = tree_lib.where(accept, g_try, g)
        fx = jnp.where(accept, f_try, fx)
        return k + 1, x, fx, g, _operators.norm(g, dtype), radius

    init = (
        jnp.zeros([], jnp.int32),
        params,
        fx,
        g,
        _operators.norm(g, dtype),
        jnp.asarray(initial_radius, dtype),
    )
    k, x, fx, _, gnorm, radius = jax.lax.while_loop(cond, body, init)
    return TrustRegionResult(x, fx, gnorm, k, gnorm <= gtol, radius)


def trust_ratio(actual: jax.Array, predicted: jax.Array) -> jax.Array:
    """:math:`\\rho` = actual / predicted decrease; 1 for a null step, :math:`-\\infty`
    when the prediction is not positive and ``f`` did not decrease (or is NaN)."""
    valid = predicted > 0
    rho = actual / jnp.where(valid, predicted, 1.0)
    fallback = jnp.where(actual >= 0, 1.0, -jnp.inf).astype(rho.dtype)
    return jnp.where(valid, rho, fallback)


def update_radius(radius, rho, hit_boundary, eta, max_radius):
    """Nocedal and Wright's Alg. 4.1 radius rule; returns ``(new_radius, accept)``
    (a NaN ratio shrinks and rejects)."""
    shrink = ~(rho >= 0.25)
    expand = (rho > 0.75) & hit_boundary
    grown = jnp.minimum(2.0 * radius, jnp.asarray(max_radius).astype(radius.dtype))
    new = jnp.where(shrink, 0.25 * radius, jnp.where(expand, grown, radius))
    return new, rho > eta


def negative_curvature_direction(
    f: Callable[..., jax.Array],
    params: Any,
    *args: Any,
    key: jax.Array,
    num_steps: int = 20,
) -> NegativeCurvatureResult:
    """A unit direction of most negative curvature of ``f``, oriented downhill.

    Runs `lanczos` on the Hessian from a random start and takes the Ritz vector
    :math:`u` of the smallest Ritz value :math:`\\theta_{min}`. If
    :math:`\\theta_{min} < 0`, moving along :math:`u` lowers ``f`` to second order,
    :math:`f(\\theta + t u) \\approx f(\\theta) + t\\, g^\\top u + \\tfrac{t^2}{2}
    \\theta_{min}`, even at a saddle where :math:`g = 0`. The sign is chosen so that
    :math:`g^\\top u \\le 0`.

    Args:
      f: a scalar function ``f(params, *args)``.
      params: the point.
      *args: further positional arguments of ``f``.
      key: a PRNG key for the Lanczos start vector (required).
      num_steps: Lanczos steps, an integer >= 1 (clamped to the dimension). Default 20.

    Returns:
      A `NegativeCurvatureResult` (``found`` is false when the Hessian looks positive
      semi-definite).

    Raises:
      ValueError: if ``num_steps < 1``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from gradtx import second_order
      >>> f = lambda p: p[0] ** 2 - p[1] ** 2
      >>> res = second_order.negative_curvature_direction(f, jnp.zeros(2), key=jax.random.key(0))
      >>> jnp.abs(res.direction).round(4).tolist(), round(float(res.curvature), 4)
      ([0.0, 1.0], -2.0)

    References:
      Dauphin et al., "Identifying and attacking the saddle point problem in
      high-dimensional non-convex optimization", NeurIPS 2014,
      https://arxiv.org/abs/1406.2572
    """
    fn = "negative_curvature_direction"
    validate.integer(fn, "num_steps", num_steps, 1)
    dtype = _operators.compute_dtype(params)
    steps = min(num_steps, _operators.dimension(params))
    res = top_eigenvalues(
        hvp_operator(f, params, *args),
        params,
        1,
        key,
        num_steps=steps,
        which="smallest",
        return_vectors=True,
    )
    u = _operators.stack_get(res.eigenvectors, 0)
    g = _operators.cast(jax.grad(f)(params, *args), dtype)
    sign = jnp.where(_operators.dot(g, u, dtype) > 0, -1.0, 1.0)
    u = _operators.scal(sign, u)
    curvature = res.eigenvalues[0]
    return NegativeCurvatureResult(
        direction=_operators.cast_like(u, params),
        curvature=curvature,
        residual=res.residuals[0],
        found=curvature < 0,
    )


# --- shared pieces of the line-search minimizers ---------------------------------------


def _value_and_grad(f, args, dtype):
    vg = jax.value_and_grad(f)

    def value_and_grad(x):
        value, grad = vg(x, *args)
        return jnp.asarray(value).astype(dtype), grad

    return value_and_grad


def _move(x: Any, p: Any, alpha: Any) -> Any:
    """``x + alpha * p`` with each leaf kept in ``x``'s dtype."""

    def one(a, b):
        dtype = numerics.common_dtype(a.dtype, b.dtype)
        step = jnp.asarray(alpha).astype(dtype) * b.astype(dtype)
        return (a.astype(dtype) + step).astype(a.dtype)

    return jax.tree.map(one, x, p)


def _line_search_minimize(f, params, args, direction, num_steps, gtol, max_backtracks, dtype):
    value_and_grad = _value_and_grad(f, args, dtype)

    def value(x):
        return jnp.asarray(f(x, *args)).astype(dtype)

    fx, g = value_and_grad(params)

    def cond(carry):
        k, _, _, _, gnorm = carry
        return (k < num_steps) & (gnorm > gtol)

    def body(carry):
        k, x, fx, g, gnorm = carry
        p = direction(x, g, gnorm)
        slope = _operators.dot(g, p, dtype)
        alpha = armijo_backtracking(value, x, fx, slope, p, max_backtracks)
        x = _move(x, p, alpha)
        fx, g = value_and_grad(x)
        return k + 1, x, fx, g, _operators.norm(g, dtype)

    init = (jnp.zeros([], jnp.int32), params, fx, g, _operators.norm(g, dtype))
    k, x, fx, _, gnorm = jax.lax.while_loop(cond, body, init)
    return MinimizeResult(x, fx, gnorm, k, gnorm <= gtol)


def armijo_backtracking(value, x, fx, slope, p, max_backtracks):
    """The first :math:`\\alpha \\in \\{1, 1/2, \\dots\\}` with
    :math:`f(x + \\alpha p) \\le f(x) + c_1 \\alpha\\, g^\\top p`, or 0 if none is found
    within ``max_backtracks`` halvings (or ``p`` is not a descent direction)."""
    dtype = fx.dtype

    def sufficient(alpha, f_alpha):
        return f_alpha <= fx + _ARMIJO_C1 * alpha * slope

    def cond(carry):
        i, alpha, f_alpha = carry
        return (i < max_backtracks) & ~sufficient(alpha, f_alpha)

    def body(carry):
        i, alpha, _ = carry
        alpha = 0.5 * alpha
        return i + 1, alpha, value(_move(x, p, alpha))

    one = jnp.ones([], dtype)
    _, alpha, f_alpha = jax.lax.while_loop(
        cond, body, (jnp.zeros([], jnp.int32), one, value(_move(x, p, one)))
    )
    ok = sufficient(alpha, f_alpha) & (slope < 0)
    return jnp.where(ok, alpha, jnp.zeros_like(alpha))
