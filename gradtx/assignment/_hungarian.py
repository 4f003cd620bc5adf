r"""The linear assignment problem, solved exactly by the Hungarian (Kuhn-Munkres) method.

Given a cost matrix :math:`C \in \mathbb R^{n \times m}`, find :math:`\min(n, m)` pairs
:math:`(i, j)`, no row and no column used twice, of least total cost. The solver keeps
dual potentials :math:`u, v` with :math:`C_{ij} - u_i - v_j \ge 0` and adds one row at a
time along a shortest augmenting path in the reduced costs (the :math:`O(n^2 m)`
form of Kuhn-Munkres due to Jonker and Volgenant, as in Crouse 2016), so every step is
a vector operation over the columns inside ``lax`` loops: it runs under ``jit`` and
``vmap``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradtx.core import numerics

__all__ = ["base_hungarian_algorithm", "hungarian_algorithm"]


def _solve(cost: jax.Array) -> jax.Array:
    """``col4row`` of an ``n x m`` problem with ``n <= m``: the column of every row.

    Arrays use 1-based rows and columns with a sentinel column 0 (the row being added),
    the classic formulation of the shortest-augmenting-path Hungarian method.
    """
    n, m = cost.shape
    dtype = cost.dtype
    inf = jnp.asarray(jnp.inf, dtype)
    # row_of[j]: the row (1-based, 0 = free) matched to column j; column 0 is the sentinel.
    init = (jnp.zeros(n + 1, dtype), jnp.zeros(m + 1, dtype), jnp.zeros(m + 1, jnp.int32))

    def add_row(i, carry):
        u, v, row_of = carry
        row_of = row_of.at[0].set(i + 1)
        min_reduced = jnp.full(m + 1, inf)
        way = jnp.zeros(m + 1, jnp.int32)
        used = jnp.zeros(m + 1, bool)

        def grow(state):
            u, v, row_of, min_reduced, way, used, j0 = state
            used = used.at[j0].set(True)
            i0 = row_of[j0]
            reduced = jnp.concatenate([inf[None], cost[i0 - 1] - u[i0] - v[1:]])
            better = ~used & (reduced < min_reduced)
            min_reduced = jnp.where(better, reduced, min_reduced)
            way = jnp.where(better, j0, way)
            candidates = jnp.where(used, inf, min_reduced).at[0].set(inf)
            j1 = jnp.argmin(candidates).astype(jnp.int32)
            delta = candidates[j1]
            step = jnp.where(used, delta, 0)
            u = u.at[row_of].add(step)
            v = v - step
            min_reduced = jnp.where(used, min_reduced, min_reduced - delta)
            return u, v, row_of, min_reduced, way, used, j1

        def unmatched(state):
            row_of, j0 = state[2], state[6]
            return row_of[j0] != 0

        state = (u, v, row_of, min_reduced, way, used, jnp.asarray(0, jnp.int32))
        u, v, row_of, _, way, _, j0 = jax.lax.while_loop(unmatched, grow, grow(state))

        def flip(carry):
            row_of, j0 = carry
            j1 = way[j0]
            return row_of.at[j0].set(row_of[j1]), j1

        row_of, _ = jax.lax.while_loop(lambda c: c[1] != 0, flip, (row_of, j0))
        return u, v, row_of

    _, _, row_of = jax.lax.fori_loop(0, n, add_row, init)
    # Every row is matched (n <= m): scatter the columns to their rows.
    columns = jnp.arange(m, dtype=jnp.int32)
    matched = row_of[1:] > 0
    targets = jnp.where(matched, row_of[1:] - 1, n)  # unmatched columns go to a dump slot
    return jnp.zeros(n + 1, jnp.int32).at[targets].set(columns)[:n]


def _prepare(cost_matrix: Any) -> tuple[jax.Array, bool]:
    """The costs in a float dtype (float32 or wider), transposed to have rows <= columns."""
    cost = jnp.asarray(cost_matrix)
    if cost.ndim != 2:
        raise ValueError(f"cost_matrix must be 2-d, got shape {cost.shape}")
    cost = cost.astype(numerics.compute_dtype(cost.dtype))
    transpose = cost.shape[0] > cost.shape[1]
    return (cost.T if transpose else cost), transpose


def _index_dtype() -> jnp.dtype:
    return jax.dtypes.canonicalize_dtype(int)


def base_hungarian_algorithm(cost_matrix: Any) -> tuple[jax.Array, jax.Array]:
    r"""An optimal assignment, with the pairs sorted by row.

    Solves the linear assignment problem

    .. math::
        \min_{X} \sum_{ij} C_{ij} X_{ij} \quad \text{s.t.} \quad X_{ij} \in \{0, 1\},\
        \sum_i X_{ij} \le 1,\ \sum_j X_{ij} \le 1,\ \sum_{ij} X_{ij} = \min(n, m)

    exactly by the Hungarian method (see the module docstring). The pairs come sorted by
    row, as from ``scipy.optimize.linear_sum_assignment`` and Optax's function of this
    name. `hungarian_algorithm` is the same solver with Optax's other ordering.

    Args:
      cost_matrix: a 2-d array of finite costs ``[n, m]`` (any real dtype; integers are
        solved in float32, or float64 under x64).

    Returns:
      ``(i, j)``: two integer arrays of length ``min(n, m)`` with ``i`` increasing; the
      optimal cost is ``cost_matrix[i, j].sum()``. Empty arrays for an empty matrix.

    Raises:
      ValueError: if ``cost_matrix`` is not 2-d.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import assignment
      >>> cost = jnp.array([[8, 4, 7], [5, 2, 3], [9, 6, 7], [9, 4, 8]])
      >>> i, j = assignment.base_hungarian_algorithm(cost)
      >>> i.tolist(), j.tolist(), int(cost[i, j].sum())
      ([0, 1, 3], [0, 2, 1], 15)

    References:
      Kuhn, "The Hungarian method for the assignment problem", Naval Research Logistics
      Quarterly 1955, https://doi.org/10.1002/nav.3800020109; Munkres, "Algorithms for
      the Assignment and Transportation Problems", Journal of SIAM 1957,
      https://doi.org/10.1137/0105003; Crouse, "On implementing 2D rectangular
      assignment algorithms", IEEE Transactions on Aerospace and Electronic Systems
      2016, https://doi.org/10.1109/TAES.2016.140952
    """
    dtype = _index_dtype()
    cost, transpose = _prepare(cost_matrix)
    if cost.size == 0:
        return jnp.zeros(0, dtype), jnp.zeros(0, dtype)
    col4row = _solve(cost).astype(dtype)
    if not transpose:
        return jnp.arange(cost.shape[0], dtype=dtype), col4row
    # Transposed: col4row maps original columns to original rows; sort by row.
    order = jnp.argsort(col4row).astype(dtype)
    return col4row[order], order


def hungarian_algorithm(cost_matrix: Any) -> tuple[jax.Array, jax.Array]:
    r"""An optimal assignment, with the pairs in Optax's order for this function.

    The same exact solver as `base_hungarian_algorithm` (one implementation); only the
    order of the returned pairs differs, to match Optax's ``hungarian_algorithm``: for
    a square matrix the pairs are sorted by column, for a wide one (:math:`n < m`) by
    row in decreasing order, for a tall one (:math:`n > m`) by column in decreasing
    order.

    .. math::
        \min_{X} \sum_{ij} C_{ij} X_{ij} \quad \text{s.t.} \quad X_{ij} \in \{0, 1\},\
        \sum_i X_{ij} \le 1,\ \sum_j X_{ij} \le 1,\ \sum_{ij} X_{ij} = \min(n, m)

    Args:
      cost_matrix: a 2-d array of finite costs ``[n, m]``.

    Returns:
      ``(i, j)``: two integer arrays of length ``min(n, m)``; the optimal cost is
      ``cost_matrix[i, j].sum()``.

    Raises:
      ValueError: if ``cost_matrix`` is not 2-d.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import assignment
      >>> cost = jnp.array([[90, 80, 75, 70], [35, 85, 55, 65], [125, 95, 90, 95],
      ...                   [45, 110, 95, 115], [50, 100, 90, 100]])
      >>> i, j = assignment.hungarian_algorithm(cost)
      >>> int(cost[i, j].sum())
      265

    References:
      Kuhn, "The Hungarian method for the assignment problem", Naval Research Logistics
      Quarterly 1955, https://doi.org/10.1002/nav.3800020109; Crouse, "On implementing
      2D rectangular assignment algorithms", IEEE Transactions on Aerospace and
      Electronic Systems 2016, https://doi.org/10.1109/TAES.2016.140952
    """
    dtype = _index_dtype()
    cost, transpose = _prepare(cost_matrix)
    if cost.size == 0:
        return jnp.zeros(0, dtype), jnp.zeros(0, dtype)
    n, m = cost.shape
    col4row = _solve(cost).astype(dtype)
    rows = jnp.arange(n, dtype=dtype)
    if n == m:  # sorted by column
        row4col = jnp.zeros(m, dtype).at[col4row].set(rows)
        return row4col, jnp.arange(m, dtype=dtype)
    # Decreasing row of the (possibly transposed) problem.
    rows, cols = rows[::-1], col4row[::-1]
    return (cols, rows) if transpose else (rows, cols)
