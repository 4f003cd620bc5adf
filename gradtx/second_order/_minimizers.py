"""Second-order minimizers on pytrees: Newton-CG, saddle-free Newton, trust region.

They apply the linear solvers of ``_linear_solvers.py`` to a function ``f(params, *args)``
through Hessian-vector products. The minimizers are full ``lax.while_loop`` runs with a
static iteration bound, for small and medium problems and for experiments; the matching
gradient transforms, which take one step per ``update``, are in ``_transforms.py``.
`newton_cg` and `saddle_free_newton` share one backtracking Armijo line search
(`armijo_backtracking`, driven by `_line_search_minimize`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import numerics, validate
from gradtx.second_order import _operators
from gradtx.second_order._linear_solvers import cg_solve, steihaug_cg
from gradtx.second_order._products import hvp_operator
from gradtx.second_order._spectrum import lanczos_run, top_eigenvalues, tridiagonal_eigh

__all__ = [
    "MinimizeResult",
    "NegativeCurvatureResult",
    "TrustRegionResult",
    "negative_curvature_direction",
    "newton_cg",
    "saddle_free_newton",
    "trust_region",
]

_ARMIJO_C1 = 1e-4


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
    dtype = numerics.widest_float_dtype(params)

    def direction(x, g, gnorm):
        tol = jnp.minimum(0.5, jnp.sqrt(gnorm)) if cg_tol is None else cg_tol
        res = cg_solve(
            hvp_operator(f, x, *args),
            tree_lib.scale(-1.0, g),
            damping=damping,
            tol=tol,
            maxiter=cg_maxiter,
            negative_curvature="stop",
        )
        first = res.negative_curvature & (res.num_steps == 0)
        return tree_lib.where(first, tree_lib.scale(-1.0, g), res.x)

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
    dtype = numerics.widest_float_dtype(params)

    def direction(x, g, gnorm):
        del gnorm
        d, _ = saddle_free_direction(
            hvp_operator(f, x, *args), tree_lib.cast(g, dtype), num_lanczos_steps, damping
        )
        return tree_lib.cast_like(tree_lib.scale(-1.0, d), g)

    return _line_search_minimize(f, params, args, direction, num_steps, gtol, max_backtracks, dtype)


def saddle_free_direction(
    matvec: Any, grad: Any, num_lanczos_steps: int, damping: Any
) -> tuple[Any, jax.Array]:
    """``(d, ritz_values)`` with :math:`d = Q S (|\\Theta| + \\lambda)^{-1} S^\\top Q^\\top g`
    (positive: a step is its negative), in the compute dtype of ``grad``; zero eigenvalues
    with zero damping are dropped (pseudo-inverse)."""
    dtype = numerics.widest_float_dtype(grad)
    g = tree_lib.cast(grad, dtype)
    if not sum(jnp.size(x) for x in jax.tree.leaves(g)):
        return g, jnp.zeros([0], dtype)  # no entries (zero-size leaves): nothing to scale
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
    dtype = numerics.widest_float_dtype(params)
    value_and_grad = _value_and_grad(f, args, dtype)
    fx, g = value_and_grad(params)

    def cond(carry):
        k, _, _, _, gnorm, _ = carry
        return (k < num_steps) & (gnorm > gtol)

    def body(carry):
        k, x, fx, g, _, radius = carry
        sub = steihaug_cg(hvp_operator(f, x, *args), g, radius, tol=cg_tol, maxiter=cg_maxiter)
        x_try = numerics.axpy(1.0, sub.step, x)
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
    dtype = numerics.widest_float_dtype(params)
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
    g = tree_lib.cast(jax.grad(f)(params, *args), dtype)
    sign = jnp.where(_operators.dot(g, u, dtype) > 0, -1.0, 1.0)
    u = tree_lib.scale(sign, u)
    curvature = res.eigenvalues[0]
    return NegativeCurvatureResult(
        direction=tree_lib.cast_like(u, params),
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
        x = numerics.axpy(alpha, p, x)
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
        return i + 1, alpha, value(numerics.axpy(alpha, p, x))

    one = jnp.ones([], dtype)
    _, alpha, f_alpha = jax.lax.while_loop(
        cond, body, (jnp.zeros([], jnp.int32), one, value(numerics.axpy(one, p, x)))
    )
    ok = sufficient(alpha, f_alpha) & (slope < 0)
    return jnp.where(ok, alpha, jnp.zeros_like(alpha))
