r"""Euclidean projections of pytrees onto convex (and a few non-convex) sets.

Every function returns :math:`\operatorname{argmin}_{p \in C} \|x - p\|_2^2` for a set
:math:`C`, where :math:`x` is a whole pytree (all leaves together form one vector; nothing
is ravelled: joint quantities are tree reductions). Each leaf keeps its dtype; scalar
reductions run in float32 or wider. Everything works under ``jit``, ``vmap`` and
``grad``.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import numerics, validate

__all__ = [
    "projection_box",
    "projection_halfspace",
    "projection_hypercube",
    "projection_hyperplane",
    "projection_l1_ball",
    "projection_l1_sphere",
    "projection_l2_ball",
    "projection_l2_sphere",
    "projection_linf_ball",
    "projection_non_negative",
    "projection_simplex",
    "projection_vector",
]


def _cast(value: Any, x: jax.Array) -> Any:
    """A scalar in ``x``'s dtype (Python numbers stay weakly typed)."""
    if isinstance(value, (int, float)):
        return value
    return jnp.asarray(value).astype(jnp.result_type(x))


def _broadcast_tree(value: Any, tree: Any) -> Any:
    """``value`` as a tree of ``tree``'s structure: itself, or one leaf repeated."""
    structure = jax.tree.structure(tree)
    if jax.tree.structure(value) == structure:
        return value
    if jax.tree_util.treedef_is_leaf(jax.tree.structure(value)):
        return jax.tree.unflatten(structure, [value] * structure.num_leaves)
    raise ValueError(
        f"bound of structure {jax.tree.structure(value)} matches neither a scalar nor the "
        f"tree's structure {structure}"
    )


def _axpy(a: Any, x: Any, y: Any) -> Any:
    """``a * x + y`` per leaf for a scalar ``a``, each leaf of ``y`` keeping its dtype."""
    # jnp.asarray: a leaf may be a Python number (Optax takes tuples of floats)
    return jax.tree.map(
        lambda xi, yi: _cast(a, yi) * jnp.asarray(xi).astype(jnp.result_type(yi)) + yi, x, y
    )


def _scale(a: Any, x: Any) -> Any:
    """``a * x`` per leaf for a scalar ``a``, each leaf keeping its dtype."""
    return jax.tree.map(lambda xi: _cast(a, xi) * xi, x)


def projection_non_negative(tree: Any) -> Any:
    r"""Projection onto the non-negative orthant.

    .. math::
        \operatorname{argmin}_{p \ge 0} \|x - p\|_2^2 = \max(x, 0)

    Args:
      tree: the pytree :math:`x`.

    Returns:
      ``max(x, 0)`` leafwise, with ``tree``'s structure and dtypes.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import projections
      >>> projections.projection_non_negative(jnp.array([-1.0, 2.0])).tolist()
      [0.0, 2.0]

    References:
      Boyd and Vandenberghe, "Convex Optimization", Cambridge University Press 2004,
      section 8.1, https://web.stanford.edu/~boyd/cvxbook/
    """
    return jax.tree.map(jax.nn.relu, tree)


def projection_box(tree: Any, lower: Any, upper: Any) -> Any:
    r"""Projection onto the box :math:`\{p : l \le p \le u\}`.

    .. math::
        \operatorname{argmin}_{l \le p \le u} \|x - p\|_2^2 = \min(\max(x, l), u)

    Args:
      tree: the pytree :math:`x`.
      lower: the lower bounds :math:`l`: a tree of ``tree``'s structure (leaves
        broadcasting to its leaves) or one scalar for every leaf (Optax requires a tree
        unless ``tree`` is a single array).
      upper: the upper bounds :math:`u`, likewise; :math:`l \le u` elementwise.

    Returns:
      The projection, with ``tree``'s structure and dtypes.

    Raises:
      ValueError: if a bound is neither a single leaf nor a tree of ``tree``'s structure.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import projections
      >>> projections.projection_box(jnp.array([-2.0, 0.5, 3.0]), -1.0, 1.0).tolist()
      [-1.0, 0.5, 1.0]

    References:
      Boyd and Vandenberghe, "Convex Optimization", Cambridge University Press 2004,
      section 8.1, https://web.stanford.edu/~boyd/cvxbook/
    """
    lower, upper = _broadcast_tree(lower, tree), _broadcast_tree(upper, tree)
    return jax.tree.map(
        lambda x, lo, hi: jnp.clip(x, _cast(lo, x), _cast(hi, x)), tree, lower, upper
    )


def projection_hypercube(tree: Any, scale: Any = 1) -> Any:
    r"""Projection onto the hypercube :math:`[0, s]^n`.

    .. math::
        \operatorname{argmin}_{0 \le p \le s} \|x - p\|_2^2 = \min(\max(x, 0), s)

    The `projection_box` with ``lower=0`` and ``upper=scale``.

    Args:
      tree: the pytree :math:`x`.
      scale: the side :math:`s \ge 0`, a scalar or a tree of ``tree``'s structure.
        Default 1 (the unit hypercube).

    Returns:
      The projection, with ``tree``'s structure and dtypes.

    Raises:
      ValueError: for a negative scalar ``scale``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import projections
      >>> projections.projection_hypercube({"w": jnp.array([-2.0, 0.5, 3.0])})["w"].tolist()
      [0.0, 0.5, 1.0]

    References:
      Boyd and Vandenberghe, "Convex Optimization", Cambridge University Press 2004,
      section 8.1, https://web.stanford.edu/~boyd/cvxbook/
    """
    validate.non_negative("projection_hypercube", scale=scale)
    return projection_box(tree, lower=0, upper=scale)


def _compute_leaves(tree: Any) -> tuple[list[jax.Array], jnp.dtype]:
    """The leaves as arrays, and the float dtype (float32 or wider) to reduce them in."""
    leaves = [jnp.asarray(x) for x in jax.tree.leaves(tree)]
    dtype = functools.reduce(
        numerics.common_dtype, [numerics.compute_dtype(x.dtype) for x in leaves], jnp.float32
    )
    return leaves, jnp.dtype(dtype)


def _simplex_threshold(leaves: list[jax.Array], scale: jax.Array) -> jax.Array:
    r"""The :math:`\tau` with :math:`\sum \max(x - \tau, 0) = s`, by Michelot's method.

    Start with every entry active and :math:`\tau = (\sum_A x - s)/|A|`; drop the entries
    :math:`\le \tau` and recompute, until no entry is dropped. :math:`\tau` only grows, so
    a dropped entry never returns, the loop ends after at most :math:`n` rounds (a few in
    practice) and the final :math:`\tau` is exact. Only tree reductions are used.
    """
    dtype = scale.dtype
    n = sum(x.size for x in leaves)

    def threshold(active):
        total = sum(jnp.sum(jnp.where(a, x, 0), dtype=dtype) for a, x in zip(active, leaves))
        count = sum(jnp.sum(a, dtype=jnp.int32) for a in active)
        return (total - scale) / jnp.maximum(count, 1).astype(dtype), count

    def body(carry):
        active, tau, count, _ = carry
        active = [a & (x > tau) for a, x in zip(active, leaves)]
        new_tau, new_count = threshold(active)
        return active, new_tau, new_count, count

    def cond(carry):
        _, _, count, previous = carry
        return count != previous

    active = [jnp.ones(x.shape, bool) for x in leaves]
    tau, count = threshold(active)
    init = (active, tau, count, jnp.asarray(n + 1, jnp.int32))
    return jax.lax.while_loop(cond, body, init)[1]


@jax.custom_jvp
def _simplex(leaves: tuple[jax.Array, ...], scale: jax.Array) -> tuple[jax.Array, ...]:
    """``max(x - tau, 0)`` on the compute-dtype leaves, ``tau`` from `_simplex_threshold`."""
    tau = _simplex_threshold(list(leaves), scale)
    return tuple(jax.nn.relu(x - tau) for x in leaves)


@_simplex.defjvp
def _simplex_jvp(primals, tangents):
    # On the support S the projection is x - tau with tau = (sum_S x - s) / |S|, so its
    # derivative is dx - (sum_S dx - ds) / |S| there and 0 elsewhere (almost everywhere).
    leaves, scale = primals
    dleaves, dscale = tangents
    out = _simplex(leaves, scale)
    support = [p > 0 for p in out]
    card = jnp.maximum(sum(jnp.sum(s, dtype=jnp.int32) for s in support), 1).astype(scale.dtype)
    total = sum(jnp.sum(jnp.where(s, d, 0)) for s, d in zip(support, dleaves))
    shift = (total - dscale) / card
    dout = tuple(jnp.where(s, d - shift, 0) for s, d in zip(support, dleaves))
    return out, dout


def _project_simplex(tree: Any, scale: Any) -> Any:
    """The simplex projection of a tree, each leaf cast back to its dtype."""
    leaves, dtype = _compute_leaves(tree)
    if not leaves:
        return tree
    scale = jnp.asarray(scale).astype(dtype)
    out = _simplex(tuple(x.astype(dtype) for x in leaves), scale)
    out = [p.astype(x.dtype) for p, x in zip(out, leaves)]
    return jax.tree.unflatten(jax.tree.structure(tree), out)


def projection_simplex(tree: Any, scale: Any = 1) -> Any:
    r"""Projection onto the simplex :math:`\{p \ge 0 : \sum_i p_i = s\}`.

    .. math::
        \operatorname{argmin}_{p \ge 0,\ \sum_i p_i = s} \|x - p\|_2^2 = \max(x - \tau, 0)

    with the unique :math:`\tau` such that :math:`\sum_i \max(x_i - \tau, 0) = s`, found
    exactly by Michelot's active-set method (Condat 2016, section 2): starting from all
    entries, :math:`\tau = (\sum_{i \in A} x_i - s)/|A|` and the entries
    :math:`\le \tau` leave :math:`A`, until none does (at most :math:`n` rounds, a few
    in practice). All leaves of ``tree`` form one vector, as in Optax; without any
    ravelling, each round is a tree reduction. The derivative (used by ``jax.grad``) is
    the exact one of the piecewise-linear map: on the support :math:`S`,
    :math:`\partial p = \partial x - \mathbf 1 (\sum_S \partial x_i - \partial s)/|S|`.

    Args:
      tree: the pytree :math:`x` (floating leaves).
      scale: the total :math:`s > 0`. Default 1 (the probability simplex).

    Returns:
      The projection, with ``tree``'s structure and dtypes.

    Raises:
      ValueError: for a non-positive concrete ``scale``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import projections
      >>> p = projections.projection_simplex({"w": jnp.array([2.5, 3.2]), "b": jnp.array(0.5)})
      >>> p["w"].round(4).tolist(), p["b"].round(4).tolist()
      ([0.15, 0.85], 0.0)

    References:
      Michelot, "A finite algorithm for finding the projection of a point onto the
      canonical simplex of R^n", Journal of Optimization Theory and Applications 1986,
      https://doi.org/10.1007/BF00938486; Duchi et al., "Efficient Projections onto the
      l1-Ball for Learning in High Dimensions", ICML 2008,
      https://doi.org/10.1145/1390156.1390191; Condat, "Fast projection onto the simplex
      and the l1 ball", Mathematical Programming 2016,
      https://doi.org/10.1007/s10107-015-0946-6
    """
    validate.positive("projection_simplex", scale=scale)
    return _project_simplex(tree, scale)


def _sign(x: jax.Array) -> jax.Array:
    """The sign of ``x`` with ``sign(0) = +1`` (any sign is optimal there)."""
    return jnp.where(x < 0, -jnp.ones_like(x), jnp.ones_like(x))


def projection_l1_sphere(tree: Any, scale: Any = 1) -> Any:
    r"""Projection onto the l1 sphere :math:`\{y : \|y\|_1 = s\}`.

    .. math::
        \operatorname{argmin}_{\|y\|_1 = s} \|x - y\|_2^2
        = \operatorname{sign}(x) \odot \Pi_{\Delta_s}(|x|)

    with :math:`\Pi_{\Delta_s}` the `projection_simplex`. Outside the ball this is the
    l1-ball projection (Duchi et al. 2008); inside it, every magnitude grows by the same
    amount, which is the nearest point of the sphere. A zero entry counts as positive
    (Optax keeps it at 0, so its result lies strictly inside the sphere).

    Args:
      tree: the pytree :math:`x`.
      scale: the radius :math:`s > 0`. Default 1.

    Returns:
      The projection, with ``tree``'s structure and dtypes.

    Raises:
      ValueError: for a non-positive concrete ``scale``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import projections
      >>> projections.projection_l1_sphere(jnp.array([0.2, -0.2])).round(4).tolist()
      [0.5, -0.5]

    References:
      Duchi et al., "Efficient Projections onto the l1-Ball for Learning in High
      Dimensions", ICML 2008, https://doi.org/10.1145/1390156.1390191
    """
    validate.positive("projection_l1_sphere", scale=scale)
    magnitudes = _project_simplex(jax.tree.map(jnp.abs, tree), scale)
    return jax.tree.map(lambda x, m: _sign(x) * m, tree, magnitudes)


def projection_l1_ball(tree: Any, scale: Any = 1) -> Any:
    r"""Projection onto the l1 ball :math:`\{y : \|y\|_1 \le s\}`.

    .. math::
        \operatorname{argmin}_{\|y\|_1 \le s} \|x - y\|_2^2 =
        \begin{cases} x & \|x\|_1 \le s \\
        \operatorname{sign}(x) \odot \Pi_{\Delta_s}(|x|) & \text{otherwise}
        \end{cases}

    Args:
      tree: the pytree :math:`x`.
      scale: the radius :math:`s > 0`. Default 1.

    Returns:
      The projection, with ``tree``'s structure and dtypes.

    Raises:
      ValueError: for a non-positive concrete ``scale``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import projections
      >>> projections.projection_l1_ball(jnp.array([2.5, 3.2, 0.5])).round(4).tolist()
      [0.15, 0.85, 0.0]

    References:
      Duchi et al., "Efficient Projections onto the l1-Ball for Learning in High
      Dimensions", ICML 2008, https://doi.org/10.1145/1390156.1390191
    """
    validate.positive("projection_l1_ball", scale=scale)
    leaves, dtype = _compute_leaves(tree)
    norm = sum(jnp.sum(jnp.abs(x.astype(dtype))) for x in leaves)
    return jax.lax.cond(
        norm <= jnp.asarray(scale).astype(dtype),
        lambda t: t,
        lambda t: projection_l1_sphere(t, scale),
        tree,
    )


def projection_l2_sphere(tree: Any, scale: Any = 1) -> Any:
    r"""Projection onto the l2 sphere :math:`\{y : \|y\|_2 = s\}`.

    .. math::
        \operatorname{argmin}_{\|y\|_2 = s} \|x - y\|_2^2 = \frac{s}{\|x\|_2}\, x

    At :math:`x = 0` every point of the sphere is a projection; this returns the one
    with all entries equal, :math:`s/\sqrt n` (Optax gives NaN there).

    Args:
      tree: the pytree :math:`x`.
      scale: the radius :math:`s > 0`. Default 1.

    Returns:
      The projection, with ``tree``'s structure and dtypes.

    Raises:
      ValueError: for a non-positive concrete ``scale``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import projections
      >>> projections.projection_l2_sphere(jnp.array([0.3, 0.4]), 10.0).round(4).tolist()
      [6.0, 8.0]

    References:
      Boyd and Vandenberghe, "Convex Optimization", Cambridge University Press 2004,
      section 8.1, https://web.stanford.edu/~boyd/cvxbook/
    """
    validate.positive("projection_l2_sphere", scale=scale)
    leaves, dtype = _compute_leaves(tree)
    n = sum(x.size for x in leaves)
    norm = tree_lib.l2_norm(tree).astype(dtype)
    zero = norm == 0
    factor = jnp.asarray(scale).astype(dtype) / jnp.where(zero, jnp.ones_like(norm), norm)
    fill = jnp.asarray(scale).astype(dtype) / jnp.sqrt(jnp.asarray(max(n, 1), dtype))
    return jax.tree.map(lambda x: jnp.where(zero, _cast(fill, x), _cast(factor, x) * x), tree)


def projection_l2_ball(tree: Any, scale: Any = 1) -> Any:
    r"""Projection onto the l2 ball :math:`\{y : \|y\|_2 \le s\}`.

    .. math::
        \operatorname{argmin}_{\|y\|_2 \le s} \|x - y\|_2^2
        = \frac{s}{\max(\|x\|_2, s)}\, x

    Args:
      tree: the pytree :math:`x`.
      scale: the radius :math:`s > 0`. Default 1.

    Returns:
      The projection, with ``tree``'s structure and dtypes.

    Raises:
      ValueError: for a non-positive concrete ``scale``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import projections
      >>> projections.projection_l2_ball(jnp.array([3.0, 4.0])).round(4).tolist()
      [0.6, 0.8]

    References:
      Boyd and Vandenberghe, "Convex Optimization", Cambridge University Press 2004,
      section 8.1, https://web.stanford.edu/~boyd/cvxbook/
    """
    validate.positive("projection_l2_ball", scale=scale)
    _, dtype = _compute_leaves(tree)
    s = jnp.asarray(scale).astype(dtype)
    squared = tree_lib.l2_norm(tree, squared=True).astype(dtype)
    return _scale(s / jnp.sqrt(jnp.maximum(squared, s * s)), tree)


def projection_linf_ball(tree: Any, scale: Any = 1) -> Any:
    r"""Projection onto the l-infinity ball :math:`\{y : \|y\|_\infty \le s\}`.

    .. math::
        \operatorname{argmin}_{\|y\|_\infty \le s} \|x - y\|_2^2
        = \min(\max(x, -s), s)

    Args:
      tree: the pytree :math:`x`.
      scale: the radius :math:`s \ge 0`. Default 1.

    Returns:
      The projection, with ``tree``'s structure and dtypes.

    Raises:
      ValueError: for a negative concrete ``scale``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import projections
      >>> projections.projection_linf_ball(jnp.array([-3.0, 0.5, 2.0])).tolist()
      [-1.0, 0.5, 1.0]

    References:
      Boyd and Vandenberghe, "Convex Optimization", Cambridge University Press 2004,
      section 8.1, https://web.stanford.edu/~boyd/cvxbook/
    """
    validate.non_negative("projection_linf_ball", scale=scale)
    return jax.tree.map(lambda x: jnp.clip(x, -_cast(scale, x), _cast(scale, x)), tree)


def _coefficient(numerator: jax.Array, a: Any) -> jax.Array:
    """``numerator / <a, a>`` in the reduction dtype."""
    return numerator / tree_lib.vdot(a, a).astype(numerator.dtype)


def projection_vector(x: Any, a: Any) -> Any:
    r"""Projection onto the line spanned by the tree :math:`a`.

    .. math::
        \operatorname{argmin}_{y = t a,\ t \in \mathbb R} \|x - y\|_2^2
        = \frac{\langle x, a \rangle}{\langle a, a \rangle}\, a

    Args:
      x: the pytree to project.
      a: a nonzero tree of ``x``'s structure.

    Returns:
      The projection, with ``a``'s structure and dtypes.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import projections
      >>> projections.projection_vector(jnp.array([2.0, 1.0]), jnp.array([1.0, 1.0])).tolist()
      [1.5, 1.5]

    References:
      Boyd and Vandenberghe, "Convex Optimization", Cambridge University Press 2004,
      section 8.1, https://web.stanford.edu/~boyd/cvxbook/
    """
    return _scale(_coefficient(tree_lib.vdot(x, a), a), a)


def projection_hyperplane(x: Any, a: Any, b: Any) -> Any:
    r"""Projection onto the hyperplane :math:`\{y : \langle a, y \rangle = b\}`.

    .. math::
        \operatorname{argmin}_{\langle a, y \rangle = b} \|x - y\|_2^2
        = x + \frac{b - \langle a, x \rangle}{\langle a, a \rangle}\, a

    Args:
      x: the pytree to project.
      a: the normal, a nonzero tree of ``x``'s structure.
      b: the offset, a scalar.

    Returns:
      The projection, with ``x``'s structure and dtypes.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import projections
      >>> x, a = jnp.array([2.0, 2.0]), jnp.array([1.0, 0.0])
      >>> projections.projection_hyperplane(x, a, 1.0).tolist()
      [1.0, 2.0]

    References:
      Boyd and Vandenberghe, "Convex Optimization", Cambridge University Press 2004,
      section 8.1.1, https://web.stanford.edu/~boyd/cvxbook/
    """
    dot = tree_lib.vdot(x, a)
    return _axpy(_coefficient(jnp.asarray(b).astype(dot.dtype) - dot, a), a, x)


def projection_halfspace(x: Any, a: Any, b: Any) -> Any:
    r"""Projection onto the halfspace :math:`\{y : \langle a, y \rangle \le b\}`.

    .. math::
        \operatorname{argmin}_{\langle a, y \rangle \le b} \|x - y\|_2^2
        = x + \frac{\min(b - \langle a, x \rangle, 0)}{\langle a, a \rangle}\, a

    Args:
      x: the pytree to project.
      a: the outer normal, a nonzero tree of ``x``'s structure.
      b: the offset, a scalar.

    Returns:
      The projection, with ``x``'s structure and dtypes.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import projections
      >>> a = jnp.array([1.0, 0.0])
      >>> projections.projection_halfspace(jnp.array([2.0, 2.0]), a, 1.0).tolist()
      [1.0, 2.0]
      >>> projections.projection_halfspace(jnp.array([0.0, 2.0]), a, 1.0).tolist()
      [0.0, 2.0]

    References:
      Boyd and Vandenberghe, "Convex Optimization", Cambridge University Press 2004,
      section 8.1.1, https://web.stanford.edu/~boyd/cvxbook/
    """
    dot = tree_lib.vdot(x, a)
    gap = jnp.minimum(jnp.asarray(b).astype(dot.dtype) - dot, 0)
    return _axpy(_coefficient(gap, a), a, x)
