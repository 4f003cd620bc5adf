"""Spectra of symmetric operators: power iteration, Lanczos, extreme eigenvalues, densities."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import numerics, validate
from gradtx.second_order import _operators

_HIGHEST = jax.lax.Precision.HIGHEST

__all__ = [
    "EigenResult",
    "LanczosResult",
    "PowerIterationResult",
    "SpectralDensity",
    "eigenvalue_density",
    "lanczos",
    "power_iteration",
    "top_eigenvalues",
]


class PowerIterationResult(NamedTuple):
    """Result of `power_iteration`.

    Attributes:
      eigenvalue: the Rayleigh quotient :math:`v^\\top A v` (the eigenvalue of largest
        magnitude, with its sign).
      eigenvector: the unit vector :math:`v` (a pytree, compute dtype).
      residual: :math:`\\|A v - \\lambda v\\|`.
      num_steps: iterations run (int32).
    """

    eigenvalue: jax.Array
    eigenvector: Any
    residual: jax.Array
    num_steps: jax.Array


class LanczosResult(NamedTuple):
    """Result of `lanczos`: the tridiagonal matrix and its eigen-decomposition.

    With :math:`Q_m` the Lanczos basis, :math:`A Q_m = Q_m T_m + \\beta_m q_{m+1} e_m^\\top`.

    Attributes:
      eigenvalues: the Ritz values, eigenvalues of :math:`T_m`, ascending, shape ``(m,)``.
      residuals: :math:`|\\beta_m s_{m,i}| = \\|A y_i - \\theta_i y_i\\|` for each Ritz pair.
      alphas: the diagonal of :math:`T_m`, shape ``(m,)``.
      betas: ``betas[:-1]`` is the off-diagonal of :math:`T_m`; ``betas[-1]`` is
        :math:`\\beta_m`, the norm of the last residual (0 after an invariant subspace).
      basis: the Lanczos vectors stacked on a leading axis (``None`` unless
        ``return_vectors``).
      eigenvectors: the Ritz vectors :math:`y_i = Q_m s_i` stacked on a leading axis, row
        ``i`` for ``eigenvalues[i]`` (``None`` unless ``return_vectors``).
    """

    eigenvalues: jax.Array
    residuals: jax.Array
    alphas: jax.Array
    betas: jax.Array
    basis: Any = None
    eigenvectors: Any = None


class EigenResult(NamedTuple):
    """Result of `top_eigenvalues`.

    Attributes:
      eigenvalues: the selected Ritz values (order given by ``which``).
      residuals: :math:`\\|A y_i - \\theta_i y_i\\|` for each.
      eigenvectors: the matching Ritz vectors stacked on a leading axis, or ``None``.
    """

    eigenvalues: jax.Array
    residuals: jax.Array
    eigenvectors: Any = None


class SpectralDensity(NamedTuple):
    """Result of `eigenvalue_density`.

    Attributes:
      grid: the evaluation points, shape ``(grid_size,)``.
      density: the smoothed spectral density on ``grid`` (integrates to about 1).
      nodes: the Gauss quadrature nodes (Ritz values), shape ``(num_probes, m)``.
      weights: their weights (squared first components), shape ``(num_probes, m)``;
        each row sums to 1.
    """

    grid: jax.Array
    density: jax.Array
    nodes: jax.Array
    weights: jax.Array


def power_iteration(
    matvec: Any, v0: Any, num_steps: int = 100, *, tol: float = 1e-6
) -> PowerIterationResult:
    """The eigenvalue of largest magnitude of a symmetric operator, by power iteration.

    .. math::
        v_{k+1} = \\frac{A v_k}{\\|A v_k\\|}, \\qquad \\lambda_k = v_k^\\top A v_k ,

    stopping when :math:`\\|A v_k - \\lambda_k v_k\\| \\le \\mathrm{tol}\\,|\\lambda_k|` or
    after ``num_steps`` iterations (a ``lax.while_loop`` with a static bound). Convergence
    is linear with ratio :math:`|\\lambda_2/\\lambda_1|`; `lanczos` is much faster for the
    same number of products.

    Args:
      matvec: ``v -> A v`` on pytrees (e.g. ``hvp_operator(f, params)``) or a dense
        ``(n, n)`` array.
      v0: the start vector (pytree; not orthogonal to the top eigenvector).
      num_steps: maximum number of iterations, an integer >= 1. Default 100.
      tol: relative residual tolerance, >= 0. Default 1e-6.

    Returns:
      A `PowerIterationResult`.

    Raises:
      ValueError: for ``num_steps < 1`` or ``tol < 0``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import second_order
      >>> a = jnp.array([[2.0, 1.0], [1.0, 2.0]])
      >>> res = second_order.power_iteration(a, jnp.array([1.0, 0.0]))
      >>> round(float(res.eigenvalue), 4)
      3.0
    """
    fn = "power_iteration"
    validate.integer(fn, "num_steps", num_steps, 1)
    validate.non_negative(fn, tol=tol)
    matvec = _operators.as_matvec(matvec, fn)
    dtype = numerics.widest_float_dtype(v0)

    def step(v):
        w = _operators.apply(matvec, v, dtype)
        lam = _operators.dot(v, w, dtype)
        res = _operators.norm(numerics.axpy(-lam, v, w), dtype)
        return w, lam, res

    v = _unit(tree_lib.cast(v0, dtype), dtype)
    w, lam, res = step(v)

    def cond(carry):
        i, _, _, lam, res = carry
        return (i < num_steps) & (res > tol * jnp.abs(lam))

    def body(carry):
        i, _, w, _, _ = carry
        v = _unit(w, dtype)
        w, lam, res = step(v)
        return i + 1, v, w, lam, res

    init = (jnp.ones([], jnp.int32), v, w, lam, res)
    i, v, _, lam, res = jax.lax.while_loop(cond, body, init)
    return PowerIterationResult(eigenvalue=lam, eigenvector=v, residual=res, num_steps=i)


def lanczos(matvec: Any, v0: Any, num_steps: int, *, return_vectors: bool = False) -> LanczosResult:
    """Lanczos tridiagonalization with full reorthogonalization.

    Builds an orthonormal basis :math:`q_1 = v_0/\\|v_0\\|, q_2, \\dots, q_m` of the Krylov
    space :math:`\\mathcal{K}_m(A, v_0)` and the tridiagonal :math:`T_m = Q_m^\\top A Q_m`:

    .. math::
        w = A q_j - \\beta_{j-1} q_{j-1}, \\quad \\alpha_j = q_j^\\top A q_j, \\quad
        w \\leftarrow (I - Q_j Q_j^\\top)^2 (w - \\alpha_j q_j), \\quad
        \\beta_j = \\|w\\|, \\quad q_{j+1} = w / \\beta_j .

    Every new vector is orthogonalized against all previous ones by classical Gram-Schmidt,
    and once more whenever that pass removed more than half of it (Kahan and Parlett's
    "twice is enough" criterion), so the basis stays orthonormal to working precision and no
    spurious copies of converged eigenvalues appear. Internally the basis is one ``(m, n)``
    matrix in the compute dtype (the leaves of each vector concatenated), so a pass costs
    two matrix-vector products whatever the number of leaves; the operator is called on
    pytrees and ``basis``/``eigenvectors`` come back stacked like ``v0``. When
    :math:`\\beta_j` vanishes (an invariant subspace was found) the iteration restarts with
    a fresh pseudo-random vector orthogonal to the basis and records :math:`\\beta_j = 0`.
    The eigenvalues of :math:`T_m` (Ritz values) approximate the extreme eigenvalues of
    :math:`A` first. ``num_steps`` is clamped to the dimension :math:`n`; with :math:`m = n`
    the Ritz values are the eigenvalues. Cost: :math:`m` products and :math:`O(m^2 n)`
    flops, memory :math:`m n`.

    Args:
      matvec: a symmetric operator ``v -> A v`` on pytrees or a dense ``(n, n)`` array.
      v0: the start vector, a pytree shaped like the operator's vectors (a 1-D array for a
        dense operator). A zero start vector is replaced by a fixed pseudo-random one.
      num_steps: the number of steps :math:`m`, an integer >= 1 (static).
      return_vectors: also return the basis and the Ritz vectors. Default False.

    Returns:
      A `LanczosResult` (arrays in the vectors' compute dtype: at least float32).

    Raises:
      ValueError: if ``num_steps < 1``.
      TypeError: if ``matvec`` is neither callable nor a square matrix.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import second_order
      >>> a = jnp.diag(jnp.array([1.0, 2.0, 3.0, 4.0]))
      >>> res = second_order.lanczos(a, jnp.ones(4), num_steps=4)
      >>> res.eigenvalues.round(4).tolist()
      [1.0, 2.0, 3.0, 4.0]

    References:
      Lanczos, "An Iteration Method for the Solution of the Eigenvalue Problem of Linear
      Differential and Integral Operators", J. Res. Nat. Bur. Standards 1950,
      https://doi.org/10.6028/jres.045.026; Parlett, "The Symmetric Eigenvalue Problem",
      SIAM 1998, https://doi.org/10.1137/1.9781611971163
    """
    fn = "lanczos"
    validate.integer(fn, "num_steps", num_steps, 1)
    matvec = _operators.as_matvec(matvec, fn)
    dtype = numerics.widest_float_dtype(v0)
    alphas, betas, basis = lanczos_run_flat(matvec, v0, num_steps, dtype)
    theta, s = tridiagonal_eigh(alphas, betas)
    residuals = jnp.abs(betas[-1] * s[-1, :])
    if not return_vectors:
        return LanczosResult(theta, residuals, alphas, betas)
    unravel = _operators.unraveler(v0, dtype)
    ritz = jnp.matmul(s.T, basis, precision=_HIGHEST)
    return LanczosResult(theta, residuals, alphas, betas, unravel(basis), unravel(ritz))


def lanczos_run(matvec: Any, v0: Any, num_steps: int, dtype: Any) -> tuple[Any, Any, Any]:
    """The Lanczos loop: ``(alphas, betas, basis)`` with ``m = min(num_steps, n)`` rows.

    ``basis`` is stacked like ``v0`` (a leading axis of length ``m`` on every leaf); the
    loop itself runs on the flat layout of `lanczos_run_flat`.
    """
    alphas, betas, basis = lanczos_run_flat(matvec, v0, num_steps, dtype)
    return alphas, betas, _operators.unraveler(v0, dtype)(basis)


def lanczos_run_flat(
    matvec: Any, v0: Any, num_steps: int, dtype: Any
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The Lanczos loop on flat vectors: ``(alphas, betas, basis)``, ``basis`` ``(m, n)``.

    The basis is one ``(m, n)`` matrix of the compute dtype (the leaves of each vector
    concatenated, see `_operators.ravel`); only the operator's input and output are
    pytrees. Each step orthogonalizes the new vector against the whole basis by classical
    Gram-Schmidt and repeats the pass when it was needed (Kahan and Parlett's "twice is
    enough", Parlett 1998, section 6-9): when the pass shrank the vector below
    :math:`1/\\sqrt{2}` of its norm, or when the vector is rounding noise (the Krylov
    space is exhausted). In that second case a pseudo-random restart vector is
    orthogonalized instead and the coupling ``beta`` is recorded as zero. A pass that
    kept most of the vector leaves it orthogonal to the basis to working precision, so
    the repeat (two more products with the basis) runs only in the rare steps that need
    it, under ``lax.cond``.
    """
    n = _operators.dimension(v0)
    if n == 0:
        raise ValueError("lanczos: the start vector has no entries")
    m = min(num_steps, n)
    threshold = 10.0 * math.sqrt(m) * float(jnp.finfo(dtype).eps)
    op = _operators.flat_operator(matvec, v0, dtype)
    x0 = _operators.ravel(v0, dtype)
    norm0 = jnp.linalg.norm(x0)
    first = jnp.where(norm0 > 0, x0, _hashed_flat(v0, 0, dtype))
    first = _unit_flat(first)
    project = _operators.orthogonalize_flat

    def body(j, carry):
        basis, v, v_prev, beta_prev, alphas, betas = carry
        basis = jax.lax.dynamic_update_index_in_dim(basis, v, j, 0)
        w = op(v)
        alpha = jnp.vdot(v, w, precision=_HIGHEST)
        w = w - alpha * v - beta_prev * v_prev
        before = jnp.linalg.norm(w)
        # ||A v|| by Pythagoras (A v = alpha v + beta_prev v_prev + w, orthogonal parts).
        scale = jnp.sqrt(alpha**2 + beta_prev**2 + before**2)
        w = project(basis, w)
        after = jnp.linalg.norm(w)
        breakdown = after <= threshold * scale

        def again(w):
            w = jnp.where(breakdown, _hashed_flat(v0, j + 1, dtype), w)
            w = project(basis, project(basis, w))
            return w, jnp.linalg.norm(w)

        repeat = breakdown | (after * math.sqrt(2.0) < before)
        w, after = jax.lax.cond(repeat, again, lambda w: (w, after), w)
        beta = jnp.where(breakdown, jnp.zeros([], dtype), after)
        v_next = w * jnp.where(after > 0, 1.0 / jnp.where(after > 0, after, 1.0), 0.0)
        return basis, v_next, v, beta, alphas.at[j].set(alpha), betas.at[j].set(beta)

    init = (
        jnp.zeros((m, n), dtype),
        first,
        jnp.zeros_like(first),
        jnp.zeros([], dtype),
        jnp.zeros((m,), dtype),
        jnp.zeros((m,), dtype),
    )
    basis, _, _, _, alphas, betas = jax.lax.fori_loop(0, m, body, init)
    return alphas, betas, basis


def _hashed_flat(like: Any, seed: Any, dtype: Any) -> jax.Array:
    return _operators.ravel(_operators.hashed_vector(like, seed, dtype), dtype)


def _unit_flat(x: jax.Array) -> jax.Array:
    """``x / ||x||`` for a flat vector (zero stays zero)."""
    nrm = jnp.linalg.norm(x)
    return x * jnp.where(nrm > 0, 1.0 / jnp.where(nrm > 0, nrm, 1.0), 0.0).astype(x.dtype)


def tridiagonal_eigh(alphas: jax.Array, betas: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Eigen-decomposition of the symmetric tridiagonal ``T`` (``betas[:-1]`` off-diagonal)."""
    off = betas[:-1]
    t = jnp.diag(alphas) + jnp.diag(off, 1) + jnp.diag(off, -1)
    return jnp.linalg.eigh(t)


def top_eigenvalues(
    matvec: Any,
    like: Any,
    k: int,
    key: jax.Array,
    *,
    num_steps: int | None = None,
    which: str = "largest",
    return_vectors: bool = False,
) -> EigenResult:
    """The ``k`` largest and/or smallest eigenvalues of a symmetric operator, by Lanczos.

    Runs `lanczos` from a random Gaussian start vector and keeps the extreme Ritz pairs.
    Check ``residuals``: a Ritz value :math:`\\theta` with residual :math:`r` is within
    :math:`r` of an eigenvalue of :math:`A`.

    Args:
      matvec: ``v -> A v`` on pytrees (e.g. ``hvp_operator(f, params)``) or a dense array.
      like: a pytree shaped like the vectors (e.g. ``params``).
      k: how many eigenvalues at each requested end, an integer >= 1 and at most the
        dimension :math:`n`.
      key: a PRNG key for the start vector.
      num_steps: Lanczos steps, an integer >= ``k``; default ``min(n, max(4 k, 40))``.
      which: ``"largest"`` (descending), ``"smallest"`` (ascending), or ``"both"`` (the
        ``k`` largest descending followed by the ``k`` smallest ascending). Default
        ``"largest"``.
      return_vectors: also return the Ritz vectors. Default False.

    Returns:
      An `EigenResult`.

    Raises:
      ValueError: for ``k`` or ``num_steps`` out of range or an unknown ``which``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from gradtx import second_order
      >>> a = jnp.diag(jnp.arange(1.0, 11.0))
      >>> res = second_order.top_eigenvalues(a, jnp.zeros(10), 2, jax.random.key(0), which="both")
      >>> res.eigenvalues.round(3).tolist()
      [10.0, 9.0, 1.0, 2.0]
    """
    fn = "top_eigenvalues"
    validate.integer(fn, "k", k, 1)
    validate.one_of(fn, "which", which, ("largest", "smallest", "both"))
    n = _operators.dimension(like)
    if k > n:
        raise ValueError(f"{fn}(k={k!r}): k must be at most the dimension {n}")
    if num_steps is None:
        num_steps = min(n, max(4 * k, 40))
    validate.integer(fn, "num_steps", num_steps, k)
    matvec = _operators.as_matvec(matvec, fn)
    dtype = numerics.widest_float_dtype(like)
    v0 = _operators.unraveler(like, dtype)(jax.random.normal(key, (n,), dtype))
    res = lanczos(matvec, v0, num_steps, return_vectors=return_vectors)
    m = res.eigenvalues.shape[0]
    largest = jnp.arange(m - 1, m - 1 - k, -1)
    smallest = jnp.arange(k)
    index = {
        "largest": largest,
        "smallest": smallest,
        "both": jnp.concatenate([largest, smallest]),
    }[which]
    vectors = None
    if return_vectors:
        vectors = jax.tree.map(lambda s: s[index], res.eigenvectors)
    return EigenResult(res.eigenvalues[index], res.residuals[index], vectors)


def eigenvalue_density(
    matvec: Any,
    like: Any,
    key: jax.Array,
    *,
    num_steps: int = 90,
    num_probes: int = 1,
    grid_size: int = 10_000,
    sigma_squared: float = 1e-5,
    bounds: tuple[float, float] | None = None,
    batch_size: int = 1,
) -> SpectralDensity:
    """The spectral density of a symmetric operator by stochastic Lanczos quadrature.

    The density :math:`\\phi(t) = \\frac{1}{n}\\sum_i \\delta(t - \\lambda_i)` is smoothed
    with a Gaussian :math:`g_\\sigma` and estimated, for a random unit vector :math:`v`,
    by the Gauss quadrature that :math:`m` Lanczos steps from :math:`v` provide
    (:math:`T_m = S \\Theta S^\\top`, nodes :math:`\\theta_i`, weights
    :math:`\\tau_i = S_{1i}^2`):

    .. math::
        \\phi_\\sigma(t) = \\mathbb{E}_v\\Big[\\sum_i (v^\\top u_i)^2 g_\\sigma(t-\\lambda_i)\\Big]
        \\approx \\frac{1}{P} \\sum_{p=1}^{P} \\sum_{i=1}^{m} \\tau_i^{(p)}
        g_\\sigma(t - \\theta_i^{(p)}) .

    Following Ghorbani et al., the kernel variance is
    :math:`\\sigma^2 = \\texttt{sigma\\_squared} \\cdot \\max(1, \\lambda_{max}-\\lambda_{min})`
    and the grid spans the Ritz values plus a margin of 1% of the range and
    :math:`5\\sigma`, so the density integrates to 1 up to the grid resolution (keep
    ``grid_size`` large enough that the spacing is below :math:`\\sigma`).

    Args:
      matvec: ``v -> A v`` on pytrees (e.g. ``hvp_operator(f, params)``) or a dense array.
      like: a pytree shaped like the vectors.
      key: a PRNG key for the probes.
      num_steps: Lanczos steps per probe, an integer >= 1 (clamped to the dimension).
        Default 90 (as in the paper).
      num_probes: independent start vectors :math:`P`, an integer >= 1. Default 1.
      grid_size: number of grid points, an integer >= 2. Default 10000.
      sigma_squared: relative kernel variance, > 0. Default 1e-5.
      bounds: ``(low, high)`` of the grid instead of the automatic range.
      batch_size: probes run together through ``jax.vmap`` (the operator sees a batch),
        an integer >= 1. Default 1: one probe after the other, memory of one basis.

    Returns:
      A `SpectralDensity` (grid, density, nodes, weights).

    Raises:
      ValueError: for arguments out of range.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from gradtx import second_order
      >>> a = jnp.diag(jnp.array([-1.0, -1.0, 2.0, 2.0]))
      >>> d = second_order.eigenvalue_density(a, jnp.zeros(4), jax.random.key(0), grid_size=2000)
      >>> h = d.grid[1] - d.grid[0]
      >>> round(float(jnp.sum(d.density) * h), 3)
      1.0

    References:
      Ghorbani, Krishnan and Xiao, "An Investigation into Neural Net Optimization via
      Hessian Eigenvalue Density", ICML 2019, https://arxiv.org/abs/1901.10159;
      Lin, Saad and Yang, "Approximating Spectral Densities of Large Matrices", SIAM
      Review 2016, https://arxiv.org/abs/1308.5467
    """
    fn = "eigenvalue_density"
    validate.integer(fn, "num_steps", num_steps, 1)
    validate.integer(fn, "num_probes", num_probes, 1)
    validate.integer(fn, "grid_size", grid_size, 2)
    validate.positive(fn, sigma_squared=sigma_squared)
    validate.integer(fn, "batch_size", batch_size, 1)
    matvec = _operators.as_matvec(matvec, fn)
    dtype = numerics.widest_float_dtype(like)

    n = _operators.dimension(like)

    def probe(i):
        v = jax.random.normal(jax.random.fold_in(key, i), (n,), dtype)
        alphas, betas, _ = lanczos_run_flat(
            matvec, _operators.unraveler(like, dtype)(v), num_steps, dtype
        )
        theta, s = tridiagonal_eigh(alphas, betas)
        return theta, s[0, :] ** 2

    nodes, weights = jax.lax.map(probe, jnp.arange(num_probes), batch_size=batch_size)
    lo, hi = jnp.min(nodes), jnp.max(nodes)
    width = jnp.maximum(hi - lo, 1.0)
    variance = sigma_squared * width
    if bounds is None:
        margin = 0.01 * width + 5.0 * jnp.sqrt(variance)
        grid = jnp.linspace(lo - margin, hi + margin, grid_size, dtype=dtype)
    else:
        grid = jnp.linspace(bounds[0], bounds[1], grid_size, dtype=dtype)

    def one(theta, tau):
        diff = grid[:, None] - theta[None, :]
        kernel = jnp.exp(-0.5 * diff**2 / variance) / jnp.sqrt(2.0 * jnp.pi * variance)
        return jnp.sum(kernel * tau[None, :], axis=1)

    density = jnp.mean(jax.vmap(one)(nodes, weights), axis=0)
    return SpectralDensity(grid=grid, density=density, nodes=nodes, weights=weights)


def _unit(v: Any, dtype: Any) -> Any:
    """``v / ||v||`` (zero stays zero)."""
    nrm = _operators.norm(v, dtype)
    inv = jnp.where(nrm > 0, 1.0 / jnp.where(nrm > 0, nrm, 1.0), 0.0)
    return tree_lib.scale(inv, v)
