"""Per-example clipping with one clipping bound per layer (DP-SGD)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradtx.core import validate
from gradtx.transforms._clipping import per_example_global_norm_clip

__all__ = ["per_example_layer_norm_clip"]


def per_example_layer_norm_clip(
    grads: Any, global_l2_norm_clip: float, uniform: bool = True
) -> tuple[Any, Any]:
    """Clip each example's gradient layer by layer, then sum over the batch.

    Each leaf (layer) :math:`\\ell` gets its own bound :math:`C_\\ell`, chosen so that
    :math:`\\sum_\\ell C_\\ell^2 = C^2`; every example's slice of that leaf is clipped
    to norm :math:`C_\\ell` (as `per_example_global_norm_clip` does for a whole tree)
    and the slices are summed:

    .. math::
        C_\\ell = C \\sqrt{1 / L} \\;\\text{(uniform)} \\quad\\text{or}\\quad
        C_\\ell = C \\sqrt{d_\\ell / d} \\;\\text{(by size)}, \\qquad
        \\bar g_\\ell = \\sum_b g^{(b)}_\\ell \\min\\left(1,
        \\frac{C_\\ell}{\\|g^{(b)}_\\ell\\|}\\right)

    with :math:`L` leaves, :math:`d_\\ell` the per-example size of leaf :math:`\\ell`
    and :math:`d = \\sum_\\ell d_\\ell`.

    Args:
      grads: a tree whose leaves all have the batch on axis 0 (same size everywhere).
      global_l2_norm_clip: :math:`C`, the overall bound, >= 0.
      uniform: split :math:`C` equally between layers (default) or in proportion to
        their sizes.

    Returns:
      ``(summed_grads, num_clipped)``: two trees shaped like ``grads`` (without the
      batch axis), the sums and, per leaf, the number of examples clipped (int32).

    Raises:
      ValueError: if a leaf has no batch axis 0, the batch sizes differ, or
        ``global_l2_norm_clip`` is negative.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> grads = {"a": jnp.array([[3.0, 4.0], [0.3, 0.4]]), "b": jnp.zeros((2, 1))}
      >>> summed, clipped = gradtx.per_example_layer_norm_clip(grads, 2.0 ** 0.5)
      >>> summed["a"].round(3).tolist(), int(clipped["a"]), int(clipped["b"])
      ([0.9, 1.2], 1, 0)

    References:
      Andrew et al., "Differentially Private Learning with Adaptive Clipping", NeurIPS
      2021, https://arxiv.org/abs/1905.03871; McMahan et al., "A General Approach to
      Adding Differential Privacy to Iterative Training Procedures", 2018,
      https://arxiv.org/abs/1812.06210
    """
    fn = "per_example_layer_norm_clip"
    validate.non_negative(fn, global_l2_norm_clip=global_l2_norm_clip)
    leaves = jax.tree.leaves(grads)
    if not leaves or any(jnp.ndim(x) < 1 for x in leaves):
        raise ValueError(
            f"{fn}: expects every leaf of grads to have a batch dimension on axis 0; got "
            f"shapes {jax.tree.map(jnp.shape, grads)}"
        )
    batch = jnp.shape(leaves[0])[0]
    if any(jnp.shape(x)[0] != batch for x in leaves):
        raise ValueError(
            f"{fn}: the leaves' batch sizes (axis 0) differ: {jax.tree.map(jnp.shape, grads)}"
        )
    if uniform:
        fractions = jax.tree.map(lambda _: 1.0 / len(leaves), grads)
    else:
        total = sum(int(x[0].size) for x in leaves)
        fractions = jax.tree.map(lambda g: g[0].size / total, grads)
    results = jax.tree.map(
        lambda g, f: per_example_global_norm_clip(g, global_l2_norm_clip * f**0.5),
        grads,
        fractions,
    )
    return jax.tree.transpose(jax.tree.structure(grads), jax.tree.structure((0, 0)), results)
