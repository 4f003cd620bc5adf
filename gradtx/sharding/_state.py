"""Shardings for optimizer state: like the parameters, or ZeRO-1 over the data axis."""

from __future__ import annotations

from typing import Any

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from gradtx.core import validate

__all__ = ["state_shardings"]

_MODES = ("like_params", "zero")


def _param_spec(param: Any, ndim: int) -> tuple[Any, ...]:
    """The parameter's partition spec padded to ``ndim`` entries (replicated if unknown)."""
    sharding = getattr(param, "sharding", None)
    spec: tuple[Any, ...] = ()
    if isinstance(sharding, NamedSharding):
        spec = tuple(sharding.spec)
    return spec + (None,) * (ndim - len(spec))


def _contains(path: tuple[Any, ...], part: tuple[Any, ...]) -> bool:
    """Whether ``part`` is a contiguous run of keys in ``path`` (always, when empty)."""
    n = len(part)
    return any(tuple(path[i : i + n]) == part for i in range(len(path) - n + 1))


def _spec_for_leaf(path: tuple[Any, ...], shape: tuple[int, ...], params: list[tuple[Any, Any]]):
    """The spec that the state leaf at ``path`` takes from its parameter, or ``None``.

    The leaf's parameter is the one whose tree path occurs in the leaf's path (the
    longest such path wins). Its spec is carried over when the leaf has the parameter's
    shape; when the leaf's shape ends with the parameter's shape (a stack along new
    leading axes, e.g. L-BFGS memories) the new axes are unsharded; when the leaf is the
    parameter with one axis reduced away (factored second moments) that axis's entry is
    dropped. Any other leaf gets ``None``.
    """
    owners = [(p_path, p) for p_path, p in params if _contains(path, p_path)]
    if not shape or not owners:
        return None
    longest = max(len(p_path) for p_path, _ in owners)
    specs = set()
    for p_path, p in owners:
        if len(p_path) != longest:
            continue
        p_shape = tuple(p.shape)
        p_spec = _param_spec(p, len(p_shape))
        if p_shape == shape:
            specs.add(p_spec)
        elif 0 < len(p_shape) < len(shape) and shape[len(shape) - len(p_shape) :] == p_shape:
            specs.add((None,) * (len(shape) - len(p_shape)) + p_spec)
        elif len(p_shape) == len(shape) + 1:
            reduced = {
                p_spec[:d] + p_spec[d + 1 :]
                for d in range(len(p_shape))
                if p_shape[:d] + p_shape[d + 1 :] == shape
            }
            if len(reduced) == 1:
                specs.add(reduced.pop())
    return specs.pop() if len(specs) == 1 else None


def _axes(spec: tuple[Any, ...]) -> set[str]:
    used: set[str] = set()
    for entry in spec:
        if entry is None:
            continue
        used.update((entry,) if isinstance(entry, str) else entry)
    return used


def _zero_spec(spec: tuple[Any, ...], shape: tuple[int, ...], data_axis: Any, size: int):
    """Add ``data_axis`` to the first free dimension divisible by its size, if any."""
    names = (data_axis,) if isinstance(data_axis, str) else tuple(data_axis)
    if not shape or _axes(spec) & set(names):
        return spec
    for dim, (entry, n) in enumerate(zip(spec, shape, strict=True)):
        if entry is None and n % size == 0:
            new = data_axis if isinstance(data_axis, str) else tuple(data_axis)
            return spec[:dim] + (new,) + spec[dim + 1 :]
    return spec


def state_shardings(
    tx: Any,
    params: Any,
    mesh: Mesh,
    mode: str = "like_params",
    *,
    data_axis: str | tuple[str, ...] | None = None,
) -> Any:
    """The ``NamedSharding`` tree for ``tx.init(params)`` on ``mesh``.

    The state's shapes come from ``jax.eval_shape(tx.init, params)`` (nothing is
    allocated). Each state leaf is matched to its parameter by tree path: the parameter
    whose key path occurs in the leaf's key path (``mu['dense']['w']`` belongs to
    ``['dense']['w']``; the longest match wins). A leaf with the parameter's shape takes
    the parameter's partition spec (a parameter with no ``NamedSharding``, e.g. a NumPy
    array, counts as replicated); a leaf whose shape ends with the parameter's shape (a
    stack along new leading axes, as in L-BFGS memories) leaves the new axes unsharded;
    a leaf that is the parameter with one axis reduced away (Adafactor's row/column
    statistics) drops that axis's entry. Everything else (step counters, scalars,
    quantization blocks of other shapes, raveled vectors) is replicated.

    Why this matters: inside ``jit``, ``zeros_like(params)`` in ``init`` has no data
    dependence on the parameters, so XLA is free to return it replicated; passing these
    shardings as ``out_shardings`` pins the state where it belongs. (``update`` needs no
    help: its outputs are computed from the sharded gradients and keep their sharding.)

    ``mode="zero"`` (ZeRO stage 1, Rajbhandari et al.) then spreads the state over the
    data-parallel axis: every non-scalar leaf whose spec does not already use
    ``data_axis`` is sharded over it along its **first** dimension that is unsharded and
    divisible by the axis size; a leaf with no such dimension stays as it was (replicated
    along that axis). With replicated parameters on a data axis of size :math:`n`, each
    device then holds :math:`1/n` of the state:

    .. math::

        \\text{bytes per device} = \\frac{1}{n} \\sum_{\\ell} \\text{bytes}(\\ell).

    Under ``jit`` with these ``out_shardings``, XLA inserts the gathers that the update
    needs (the updates keep the parameters' sharding); the numbers are the same.

    Args:
      tx: a `GradientTransformation`.
      params: the parameters (arrays, or ``jax.ShapeDtypeStruct`` with ``sharding=``);
        their ``NamedSharding`` specs give the state's.
      mesh: the ``jax.sharding.Mesh`` the state lives on; the parameters' spec axis
        names must be axes of it.
      mode: ``"like_params"`` (default: each state leaf as its parameter) or ``"zero"``
        (additionally shard over ``data_axis``).
      data_axis: the data-parallel mesh axis name (or tuple of names) for ``"zero"``;
        default ``None`` means the mesh's first axis. Ignored for ``"like_params"``.

    Returns:
      A pytree with the structure of ``tx.init(params)`` whose leaves are
      ``NamedSharding`` objects on ``mesh``; pass it as ``out_shardings`` of a jitted
      ``init`` and as in/out shardings of a jitted training step.

    Raises:
      ValueError: when ``mode`` is not one of ``"like_params"``, ``"zero"``, or
        ``data_axis`` is not an axis of ``mesh``.

    Examples:
      >>> import jax, jax.numpy as jnp, numpy as np, gradtx
      >>> from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
      >>> mesh = Mesh(np.array(jax.devices()[:1]), ("data",))
      >>> params = {"w": jax.device_put(jnp.ones((4, 2)), NamedSharding(mesh, P()))}
      >>> opt = gradtx.adam(1e-3)
      >>> shardings = gradtx.sharding.state_shardings(opt, params, mesh, "zero")
      >>> shardings[0].mu["w"].spec
      P('data',)
      >>> shardings[0].count.spec
      P()
      >>> state = jax.jit(opt.init, out_shardings=shardings)(params)
      >>> def step(params, state, grads):
      ...     updates, state = opt.update(grads, state, params)
      ...     return gradtx.apply_updates(params, updates), state
      >>> p_sh = jax.tree.map(lambda x: x.sharding, params)
      >>> train = jax.jit(step, in_shardings=(p_sh, shardings, p_sh),
      ...                 out_shardings=(p_sh, shardings), donate_argnums=(0, 1))
      >>> params, state = train(params, state, {"w": jnp.ones((4, 2))})
      >>> round(float(params["w"][0, 0]), 4)
      0.999

    References:
      Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion Parameter
      Models", SC 2020, https://arxiv.org/abs/1910.02054
    """
    fn = "state_shardings"
    validate.one_of(fn, "mode", mode, _MODES)
    if data_axis is None:
        data_axis = mesh.axis_names[0]
    names = (data_axis,) if isinstance(data_axis, str) else tuple(data_axis)
    for name in names:
        if name not in mesh.axis_names:
            raise ValueError(
                f"{fn}(data_axis={data_axis!r}): data_axis must name axes of the mesh, "
                f"which has {tuple(mesh.axis_names)}"
            )
    size = 1
    for name in names:
        size *= mesh.shape[name]

    shapes = jax.eval_shape(tx.init, params)
    flat_params = [
        (tuple(path), p)
        for path, p in jax.tree_util.tree_flatten_with_path(params)[0]
        if hasattr(p, "shape")
    ]

    def leaf_sharding(path, leaf):
        shape = tuple(leaf.shape)
        spec = _spec_for_leaf(tuple(path), shape, flat_params)
        if spec is None:
            spec = (None,) * len(shape)
        if mode == "zero":
            spec = _zero_spec(spec, shape, data_axis, size)
        while spec and spec[-1] is None:
            spec = spec[:-1]
        return NamedSharding(mesh, PartitionSpec(*spec))

    return jax.tree_util.tree_map_with_path(leaf_sharding, shapes)
