"""GaLore: the base optimizer runs on gradients projected onto a low-rank subspace."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx.contrib._muon import _axes
from gradtx.core import (
    GradientTransformation,
    OptState,
    Updates,
    chain,
    numerics,
    validate,
    with_extra_args_support,
)
from gradtx.transforms import add_decayed_weights, scale_by_adam, scale_by_learning_rate

__all__ = ["GaLoreDimensionNumbers", "GaLoreState", "galore", "scale_by_galore"]

# How each matrix picks its side: "left" projects the rows (R = P^T G, P is m x r),
# "right" the columns (R = G P, P is n x r). Keys are the reference's proj_type names.
_SIDES = {
    "reverse_std": lambda m, n: m >= n,  # Optax: the larger side is reduced
    "std": lambda m, n: m < n,  # jiaweizzhao/GaLore: the smaller side is reduced
    "left": lambda m, n: True,
    "right": lambda m, n: False,
}


class GaLoreDimensionNumbers(NamedTuple):
    """Which axes of a leaf form the rows (reduction) and columns (output) of its matrix.

    The leaf is transposed to ``reduction + output`` axis order and reshaped to
    ``(prod(reduction sizes), prod(output sizes))`` for the projection, and back after.
    Every axis must be in one of the two (as in Optax).

    Attributes:
      reduction_axis: the input axis or axes (default 0).
      output_axis: the output axis or axes (default 1).

    Examples:
      >>> import gradtx
      >>> gradtx.contrib.GaLoreDimensionNumbers(reduction_axis=0, output_axis=(1, 2))
      GaLoreDimensionNumbers(reduction_axis=0, output_axis=(1, 2))
    """

    reduction_axis: Sequence[int] | int = 0
    output_axis: Sequence[int] | int = 1


class GaLoreState(NamedTuple):
    """State of `scale_by_galore`.

    Attributes:
      count: updates so far (int32, saturating).
      base_optimizer_state: the base optimizer's state over the low-rank tree (the
        projected shapes for matrices, the full leaves otherwise).
      projector: per leaf the projection matrix :math:`P` (``(m, r)`` or ``(n, r)``,
        the leaf's dtype), ``(0, 0)`` zeros for leaves that are not projected.
    """

    count: jax.Array
    base_optimizer_state: OptState
    projector: Updates


def _matrix_view(x: Any, dim_nums: GaLoreDimensionNumbers):
    """``(m, n, to_matrix, from_matrix)`` for the leaf ``x`` under ``dim_nums``."""
    fn = "scale_by_galore"
    if jnp.ndim(x) < 2:
        raise ValueError(f"{fn}: GaLore requires tensors with rank >= 2, got shape {x.shape}")
    red, out = _axes(x, dim_nums)
    if set(red) & set(out):
        raise ValueError(
            f"{fn}: reduction axes {red} and output axes {out} must be disjoint "
            f"(dimension numbers {dim_nums}, shape {x.shape})"
        )
    if len(set(red) | set(out)) != x.ndim:
        raise ValueError(
            f"{fn}: all axes must be specified; got reduction={red}, output={out} for a "
            f"tensor with {x.ndim} dimensions"
        )
    perm = red + out
    m, n = math.prod(x.shape[a] for a in red), math.prod(x.shape[a] for a in out)
    moved = tuple(x.shape[a] for a in perm)
    inverse = tuple(perm.index(a) for a in range(x.ndim))
    return (
        m,
        n,
        lambda y: y.transpose(perm).reshape(m, n),
        lambda y: y.reshape(moved).transpose(inverse),
    )


def scale_by_galore(
    rank: int = 128,
    update_proj_gap: int = 200,
    scale: float = 1.0,
    base_optimizer: GradientTransformation | None = None,
    weight_dimension_numbers: Any = None,
    *,
    proj_type: str = "reverse_std",
) -> GradientTransformation:
    r"""Rescale updates by GaLore: run ``base_optimizer`` on low-rank projected gradients.

    For each matrix leaf :math:`G_t \in \mathbb R^{m \times n}` (a 2-D leaf, or a leaf
    viewed as a matrix through ``weight_dimension_numbers``), with :math:`r =
    \min(\text{rank}, m, n)`:

    .. math::
        P_t = \begin{cases} U_{:, :r} \text{ of } \mathrm{svd}(G_t) & t \bmod T = 0 \\
        P_{t-1} & \text{otherwise} \end{cases} \qquad
        R_t = P_t^\top G_t, \qquad
        N_t = \rho(R_t), \qquad u_t = \alpha\, P_t N_t

    for a left projection; a right one uses :math:`P_t = V_{:, :r}`, :math:`R_t = G_t
    P_t` and :math:`u_t = \alpha N_t P_t^\top`. :math:`\rho` is ``base_optimizer``
    (default `gradtx.scale_by_adam`), whose state lives in the low-rank shapes;
    :math:`T` = ``update_proj_gap``, :math:`\alpha` = ``scale``. Other leaves go
    through :math:`\rho` whole. The SVD runs in float32 (float64 for float64 leaves)
    under ``lax.cond``, only on refresh steps; :math:`P` is kept in the leaf's dtype.

    Which side is projected is ``proj_type``, named as in the reference implementation
    (github.com/jiaweizzhao/GaLore, ``galore_torch/galore_projector.py``):
    ``"reverse_std"`` (default, Optax's numbers) projects the rows when :math:`m \ge n`
    and the columns otherwise, so the larger side is reduced; ``"std"`` is the
    reference's default (and the paper's): the columns when :math:`m \ge n`, the rows
    otherwise; ``"left"`` / ``"right"`` always project the rows / columns. With
    ``proj_type="std"`` and ``base_optimizer=scale_by_adam(eps=0)`` this is the
    reference's GaLore-AdamW step.

    ``base_optimizer`` sees ``params=None`` (its leaves are not the parameters'
    shapes): use a gradient-only transformation (``scale_by_adam``, ``scale_by_lion``
    ...), and weight decay through `galore`'s ``weight_decay``.

    Args:
      rank: the target rank :math:`r`, an int >= 1. Default 128.
      update_proj_gap: refresh :math:`P` every this many steps (from step 0), an int
        >= 1. Default 200.
      scale: the factor :math:`\alpha`. Default 1.
      base_optimizer: the transformation :math:`\rho` in the subspace (default
        ``scale_by_adam()``).
      weight_dimension_numbers: ``None`` (project the 2-D leaves), one
        `GaLoreDimensionNumbers` (for every leaf of rank >= 2), a tree of them with
        ``None`` for leaves not projected, or a function of the params giving such a
        tree.
      proj_type: ``"reverse_std"`` (default, Optax), ``"std"`` (the reference),
        ``"left"`` or ``"right"``.

    Returns:
      A `GradientTransformation` with `GaLoreState`.

    Raises:
      TypeError: if ``rank`` or ``update_proj_gap`` is not an int.
      ValueError: for values outside the ranges above, or (at init) dimension numbers
        that do not fit a leaf.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.scale_by_galore(rank=1, base_optimizer=gradtx.identity())
      >>> g = jnp.array([[3.0, 0.0], [0.0, 1.0]])
      >>> u, state = tx.update(g, tx.init(g))
      >>> jnp.abs(u).tolist()  # the rank-1 part of g: its top singular pair
      [[3.0, 0.0], [0.0, 0.0]]
      >>> state.projector.shape
      (2, 1)

    References:
      Zhao et al., "GaLore: Memory-Efficient LLM Training by Gradient Low-Rank
      Projection", ICML 2024, https://arxiv.org/abs/2403.03507
    """
    fn = "scale_by_galore"
    if isinstance(rank, bool) or not isinstance(rank, int):
        raise TypeError(f"{fn}(rank={rank!r}): rank must be an int, got {type(rank).__name__}")
    if rank <= 0:
        raise ValueError(f"{fn}(rank={rank!r}): rank must be positive")
    validate.integer(fn, "update_proj_gap", update_proj_gap, 1)
    validate.finite(fn, scale=scale)
    validate.one_of(fn, "proj_type", proj_type, tuple(_SIDES))
    if base_optimizer is None:
        base_optimizer = scale_by_adam()
    base = with_extra_args_support(base_optimizer)
    use_left = _SIDES[proj_type]

    def dim_nums_of(tree):
        if weight_dimension_numbers is None:
            return jax.tree.map(lambda x: GaLoreDimensionNumbers() if x.ndim == 2 else None, tree)
        if callable(weight_dimension_numbers):
            return weight_dimension_numbers(tree)
        if isinstance(weight_dimension_numbers, GaLoreDimensionNumbers):
            return jax.tree.map(lambda x: weight_dimension_numbers if x.ndim >= 2 else None, tree)
        return weight_dimension_numbers

    def flat(tree):
        leaves, treedef = jax.tree.flatten(tree)
        dims = treedef.flatten_up_to(dim_nums_of(tree)) if leaves else []
        return leaves, treedef, dims

    def init_fn(params):
        leaves, treedef, dims = flat(params)
        projectors, proxies = [], []
        for x, d in zip(leaves, dims, strict=True):
            if d is None:
                projectors.append(jnp.zeros((0, 0), x.dtype))
                proxies.append(jnp.zeros_like(x))
                continue
            m, n, _, _ = _matrix_view(x, d)
            r = min(rank, m, n)
            left = use_left(m, n)
            projectors.append(jnp.zeros((m, r) if left else (n, r), x.dtype))
            proxies.append(jnp.zeros((r, n) if left else (m, r), x.dtype))
        return GaLoreState(
            count=numerics.zero_count(),
            base_optimizer_state=base.init(treedef.unflatten(proxies)),
            projector=treedef.unflatten(projectors),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params
        validate.tree_match(fn, updates, state.projector, shapes=False)
        leaves, treedef, dims = flat(updates)
        refresh = state.count % update_proj_gap == 0
        projectors = treedef.flatten_up_to(state.projector)
        low, new_projectors, views = [], [], []
        for g, p, d in zip(leaves, projectors, dims, strict=True):
            if d is None:
                low.append(g)
                new_projectors.append(p)
                views.append(None)
                continue
            m, n, to_matrix, from_matrix = _matrix_view(g, d)
            left = use_left(m, n)
            g2 = to_matrix(g)

            def svd_factor(g2=g2, p=p, left=left):
                u, _, vh = jnp.linalg.svd(
                    g2.astype(numerics.compute_dtype(g2.dtype)), full_matrices=False
                )
                factor = u[:, : p.shape[1]] if left else vh[: p.shape[1], :].T
                return factor.astype(p.dtype)

            p = jax.lax.cond(refresh, svd_factor, lambda p=p: p)
            low.append(p.T @ g2 if left else g2 @ p)
            new_projectors.append(p)
            views.append((left, from_matrix))
        low_updates, base_state = base.update(
            treedef.unflatten(low), state.base_optimizer_state, None, **extra_args
        )
        out = []
        for g, n_t, p, view in zip(
            leaves, treedef.flatten_up_to(low_updates), new_projectors, views, strict=True
        ):
            if view is None:
                out.append(n_t)
                continue
            left, from_matrix = view
            full = p @ n_t.astype(p.dtype) if left else n_t.astype(p.dtype) @ p.T
            out.append(numerics.scalar_mul(scale, from_matrix(full)).astype(g.dtype))
        return treedef.unflatten(out), GaLoreState(
            count=numerics.safe_increment(state.count),
            base_optimizer_state=base_state,
            projector=treedef.unflatten(new_projectors),
        )

    return GradientTransformation(init_fn, update_fn)


def galore(
    learning_rate: Any,
    rank: int = 128,
    update_proj_gap: int = 200,
    scale: float = 1.0,
    base_optimizer: GradientTransformation | None = None,
    weight_decay: Any = 0.0,
    mask: Any | Callable[[Any], Any] | None = None,
    weight_dimension_numbers: Any = None,
    *,
    proj_type: str = "reverse_std",
) -> GradientTransformation:
    """GaLore: ``chain(scale_by_galore(...), add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate))``.

    See `scale_by_galore` for the projection, the base optimizer (Adam by default) and
    ``proj_type`` (``"std"`` for the reference implementation's side). The weight decay
    is decoupled and applied in the full parameter space.

    Args:
      learning_rate: a number or a schedule.
      rank: the target rank, an int >= 1. Default 128.
      update_proj_gap: refresh the projectors every this many steps. Default 200.
      scale: the factor on the projected-back updates. Default 1.
      base_optimizer: a gradient-only transformation (default ``scale_by_adam()``).
      weight_decay: decoupled weight decay, >= 0. Default 0.
      mask: which leaves get weight decay (a tree of bools or a function of params).
      weight_dimension_numbers: see `scale_by_galore`.
      proj_type: see `scale_by_galore`. Default ``"reverse_std"`` (Optax).

    Returns:
      A `GradientTransformation` (a `chain`); ``update`` needs ``params`` when
      ``weight_decay`` is not 0.

    Raises:
      TypeError: for a non-int ``rank`` or ``update_proj_gap``.
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda p: jnp.sum(p["w"] ** 2) + jnp.sum(p["b"] ** 2)
      >>> tx = gradtx.contrib.galore(learning_rate=0.01, rank=4)
      >>> params = {"w": jnp.ones((16, 16)), "b": jnp.ones(16)}
      >>> state = tx.init(params)
      >>> for _ in range(5):
      ...     u, state = tx.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> round(float(f(params)), 2)
      264.08
      >>> state[0].projector["w"].shape  # a 16 x 4 projector, Adam on 4 x 16
      (16, 4)

    References:
      Zhao et al., "GaLore: Memory-Efficient LLM Training by Gradient Low-Rank
      Projection", ICML 2024, https://arxiv.org/abs/2403.03507
    """
    validate.non_negative("galore", weight_decay=weight_decay)
    return chain(
        scale_by_galore(
            rank=rank,
            update_proj_gap=update_proj_gap,
            scale=scale,
            base_optimizer=base_optimizer,
            weight_dimension_numbers=weight_dimension_numbers,
            proj_type=proj_type,
        ),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
