"""Optax's top-level linear algebra: power iteration, inverse p-th roots, NNLS.

(``gradtx.second_order.power_iteration`` is the Hessian-spectrum version, on
operators over parameter trees with a documented result type.)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from gradtx import tree as tree_lib

__all__ = ["matrix_inverse_pth_root", "nnls", "power_iteration"]


def _unit(tree: Any) -> Any:
    norm = tree_lib.l2_norm(tree)
    return jax.tree.map(lambda x: x / norm.astype(x.dtype), tree)


def power_iteration(
    matrix: Any,
    *,
    v0: Any = None,
    num_iters: int = 100,
    error_tolerance: float = 1e-6,
    precision: lax.Precision = lax.Precision.HIGHEST,
    key: jax.Array | None = None,
) -> tuple[jax.Array, Any]:
    """The dominant eigenpair of a symmetric matrix (or linear operator) by power iteration.

    .. math:: v_{k+1} = \\frac{A v_k}{\\|A v_k\\|}, \\qquad \\lambda_k = v_k^\\top A v_k

    stopping after ``num_iters`` products or when :math:`\\|A v_k - \\lambda_k v_k\\| /
    |\\lambda_k| <` ``error_tolerance``.

    Args:
      matrix: a square array, or a function ``v -> A v`` on trees (then ``v0`` is needed).
      v0: the starting vector (tree); default uniform in [-1, 1] drawn with ``key``.
      num_iters: the largest number of iterations, >= 1. Default 100.
      error_tolerance: the relative residual to stop at. Default 1e-6.
      precision: the matmul precision for an array ``matrix``.
      key: PRNG key for the default ``v0`` (default ``jax.random.PRNGKey(0)``).

    Returns:
      ``(eigenvalue, eigenvector)``, the vector of unit norm.

    Raises:
      ValueError: if ``matrix`` is callable and ``v0`` is not given.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> eig, vec = gradtx.power_iteration(jnp.diag(jnp.array([1.0, 3.0, 2.0])))
      >>> round(float(eig), 4), jnp.abs(vec).round(3).tolist()
      (3.0, [0.0, 1.0, 0.0])

    References:
      Golub & Van Loan, "Matrix Computations", 4th ed., JHU Press 2013, section 8.2.1.
    """
    if callable(matrix):
        if v0 is None:
            raise ValueError("power_iteration: v0 must be provided when `matrix` is a callable.")
        matvec = matrix
    else:
        matrix = jnp.asarray(matrix)

        def matvec(v):
            return jnp.matmul(matrix, v, precision=precision)

        if v0 is None:
            key = jax.random.PRNGKey(0) if key is None else key
            v0 = jax.random.uniform(
                key, matrix.shape[-1:], dtype=matrix.dtype, minval=-1.0, maxval=1.0
            )
    v0 = _unit(v0)
    z0 = matvec(v0)
    eig0 = jnp.zeros([], jnp.result_type(tree_lib.vdot(v0, z0)))

    def cond(carry):
        vec, z, eig, i = carry
        residual = tree_lib.l2_norm(tree_lib.sub(z, tree_lib.scale(eig, vec)))
        converged = jnp.abs(residual / eig.astype(residual.dtype)) < error_tolerance
        return ~converged & (i < num_iters)

    def body(carry):
        _, z, _, i = carry
        vec = _unit(z)
        z = matvec(vec)
        return vec, z, tree_lib.vdot(vec, z).astype(eig0.dtype), i + 1

    _, z, eig, _ = lax.while_loop(cond, body, (v0, z0, eig0, jnp.asarray(0)))
    return eig, _unit(z)


def _matrix_power(m: jax.Array, p: Any, precision: lax.Precision) -> jax.Array:
    """``m ** p`` for ``p`` in {1, 2, 4, 8} by repeated squaring."""
    branches = []
    for squarings in range(4):

        def branch(x, squarings=squarings):
            for _ in range(squarings):
                x = jnp.matmul(x, x, precision=precision)
            return x

        branches.append(branch)
    index = jnp.asarray(jnp.round(jnp.log2(p)), jnp.int32)
    return lax.switch(index, branches, m)


def matrix_inverse_pth_root(
    matrix: jax.Array,
    p: int,
    num_iters: int = 100,
    ridge_epsilon: float = 1e-6,
    error_tolerance: float = 1e-6,
    precision: lax.Precision = lax.Precision.HIGHEST,
):
    """:math:`(A + \\epsilon \\lambda_{\\max} I)^{-1/p}` by the coupled Newton iteration.

    The Shampoo preconditioner's root. With :math:`\\alpha = -1/p`,
    :math:`z = (1 + p) / (2 \\|A_\\epsilon\\|_F)`, :math:`M_0 = z A_\\epsilon`,
    :math:`H_0 = z^{1/p} I`:

    .. math::
        T_k = (1 - \\alpha) I + \\alpha M_k, \\qquad M_{k+1} = T_k^p M_k, \\qquad
        H_{k+1} = H_k T_k

    until :math:`\\max|M_k - I| <` ``error_tolerance``, ``num_iters`` steps, or the
    error grows by more than 20% (then the previous :math:`H` is returned). The
    iteration runs in float32.

    Args:
      matrix: a symmetric positive semi-definite matrix.
      p: the root, one of 1, 2, 4, 8.
      num_iters: the largest number of iterations. Default 100.
      ridge_epsilon: :math:`\\epsilon`, relative to the largest eigenvalue. Default 1e-6.
      error_tolerance: the error to stop at. Default 1e-6.
      precision: the matmul precision.

    Returns:
      ``(root, error)``: the inverse p-th root (``matrix``'s dtype) and the final
      :math:`\\max|M - I|`.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> root, _ = gradtx.matrix_inverse_pth_root(jnp.diag(jnp.array([4.0, 16.0])), 2)
      >>> jnp.diag(root).round(3).tolist()
      [0.5, 0.25]

    References:
      Gupta et al., "Shampoo: Preconditioned Stochastic Tensor Optimization", ICML 2018,
      https://arxiv.org/abs/1802.09568; Anil et al., "Scalable Second Order Optimization
      for Deep Learning", 2020, https://arxiv.org/abs/2002.09018
    """
    matrix = jnp.asarray(matrix)
    size = matrix.shape[0]
    alpha = jnp.asarray(-1.0 / p, jnp.float32)
    eye = jnp.eye(size, dtype=jnp.float32)
    max_ev, _ = power_iteration(
        matrix=matrix, num_iters=100, error_tolerance=1e-6, precision=precision
    )
    ridge = ridge_epsilon * jnp.maximum(max_ev, 1e-16)
    if size == 1:
        return (matrix + ridge) ** alpha, 0

    damped = matrix + ridge * eye
    z = (1 + p) / (2 * jnp.linalg.norm(damped))
    m0 = damped * z
    h0 = eye * jnp.power(z, 1.0 / p)
    error0 = jnp.max(jnp.abs(m0 - eye))

    def cond(carry):
        i, _, _, _, error, improving = carry
        return (i < num_iters) & (error > error_tolerance) & improving

    def body(carry):
        i, m, h, _, error, _ = carry
        t = (1 - alpha) * eye + alpha * m
        new_m = jnp.matmul(_matrix_power(t, p, precision), m, precision=precision)
        new_h = jnp.matmul(h, t, precision=precision)
        new_error = jnp.max(jnp.abs(new_m - eye))
        return i + 1, new_m, new_h, h, new_error, new_error < error * 1.2

    _, m, h, old_h, _, improving = lax.while_loop(
        cond, body, (0, m0, h0, h0, error0, jnp.asarray(True))
    )
    error = jnp.max(jnp.abs(m - eye))
    root = jnp.where(improving, h, old_h).astype(matrix.dtype)
    return root, error


def nnls(
    A: jax.Array,  # noqa: N803 (Optax's name)
    b: jax.Array,
    iters: int,
    unroll: int | bool = 1,
    L: Any = None,  # noqa: N803 (Optax's name)
) -> jax.Array:
    """Non-negative least squares, :math:`\\min_{x \\ge 0} \\tfrac12 \\|Ax - b\\|^2`, by
    accelerated projected gradient (FISTA).

    .. math::
        x_{k+1} = \\big[p_k - (Q p_k - q) / L\\big]_+, \\quad
        c_{k+1} = \\tfrac{1 + \\sqrt{1 + 4 c_k^2}}{2}, \\quad
        p_{k+1} = x_{k+1} + \\tfrac{c_k - 1}{c_{k+1}} (x_{k+1} - x_k)

    with :math:`Q = A^\\top A`, :math:`q = A^\\top b`, :math:`x_0 = p_0 = 0`,
    :math:`c_0 = 0`.

    Args:
      A: the matrix, shape ``(m, n)``.
      b: the right-hand side, shape ``(m,)`` or ``(m, k)``.
      iters: the number of iterations.
      unroll: passed to ``lax.scan``.
      L: a Lipschitz constant of the gradient (default: ``min`` of the Frobenius and
        1-norms of :math:`Q`, an upper bound on its spectral radius).

    Returns:
      ``x``, shape ``(n,)`` or ``(n, k)``.

    Raises:
      ValueError: for shapes other than the above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> A = jnp.eye(2)
      >>> gradtx.nnls(A, jnp.array([1.0, -1.0]), iters=50).round(4).tolist()
      [1.0, 0.0]

    References:
      Beck & Teboulle, "A Fast Iterative Shrinkage-Thresholding Algorithm for Linear
      Inverse Problems", SIAM J. Imaging Sciences 2009, https://doi.org/10.1137/080716542
    """
    if A.ndim != 2 or b.ndim not in (1, 2) or b.shape[0] != A.shape[0]:
        raise ValueError(
            f"nnls: A must be (m, n) and b (m,) or (m, k); got {A.shape} and {b.shape}"
        )
    Q = A.mT @ A  # noqa: N806
    q = A.mT @ b
    if L is None:
        fro = jnp.linalg.matrix_norm(Q, ord="fro")
        one = jnp.linalg.matrix_norm(Q, ord=1) if Q.size else 0
        L = jnp.minimum(fro, one)  # noqa: N806
    L = jnp.where(L == 0, 1, L)  # noqa: N806

    def step(carry, _):
        x, p, c = carry
        c_next = (1 + jnp.sqrt(1 + 4 * c**2)) / 2
        momentum = (c - 1) / c_next
        x_next = jnp.clip(p - (Q @ p - q) / L, 0)
        return (x_next, x_next + momentum * (x_next - x), c_next), None

    x0 = jnp.zeros_like(b, shape=A.shape[-1:] + b.shape[1:])
    (x, _, _), _ = lax.scan(step, (x0, x0, 0.0), length=iters, unroll=unroll)
    return x
