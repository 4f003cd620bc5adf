"""Packing a pytree into a few dtype-grouped flat buffers, and back.

A step of an elementwise optimizer costs XLA a few kernels *per leaf*, and a jitted call
costs a little per argument array; on wide trees (thousands of leaves) those per-leaf
costs dominate and compile time grows with the leaf count. Keeping the parameters
*packed* -- one 1-d buffer per dtype -- makes every elementwise transform see a handful
of large leaves instead: ``unpack`` inside the loss function gives the model its usual
tree, and because ``unpack`` is a split (whose derivative is a concatenation) the
gradient comes out packed too.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradtx.core import validate

__all__ = ["PackSpec", "pack", "unpack"]

# The buffer cap on CPU: 4 MiB of float32, below glibc's dynamic mmap threshold.
_CPU_BUFFER_SIZE = 2**20


@jax.tree_util.register_static
@dataclasses.dataclass(frozen=True)
class PackSpec:
    """Where each leaf of a packed tree lives (static: hashable, no arrays).

    A `PackSpec` is a static pytree node, so it can be passed through `jax.jit`
    arguments, closed over, or stored beside the buffers.

    Attributes:
      treedef: the structure of the original tree.
      groups: the buffer names, ``"<dtype>.<k>"``, by dtype name then position.
      group_sizes: the length of each buffer.
      leaf_group: for each leaf (in ``jax.tree.leaves`` order) the index of its buffer.
      leaf_shapes: each leaf's shape.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tree = {"b": jnp.zeros(3), "w": jnp.ones((2, 2)), "s": jnp.ones(2, jnp.bfloat16)}
      >>> _, spec = gradtx.pack(tree)
      >>> spec.groups, spec.group_sizes, spec.num_leaves
      (('bfloat16.0', 'float32.0'), (2, 7), 3)
      >>> print(spec.describe())
      bfloat16.0: 2 elements in 1 leaves
      float32.0: 7 elements in 2 leaves
    """

    treedef: Any
    groups: tuple[str, ...]
    group_sizes: tuple[int, ...]
    leaf_group: tuple[int, ...]
    leaf_shapes: tuple[tuple[int, ...], ...]

    @property
    def num_leaves(self) -> int:
        """How many leaves the original tree has."""
        return len(self.leaf_shapes)

    def describe(self) -> str:
        """One line per buffer: name, length and how many leaves it holds."""
        lines = []
        for i, (name, size) in enumerate(zip(self.groups, self.group_sizes, strict=True)):
            count = sum(1 for g in self.leaf_group if g == i)
            lines.append(f"{name}: {size} elements in {count} leaves")
        return "\n".join(lines)


def pack(
    tree: Any, max_buffer_size: int | str | None = "auto"
) -> tuple[dict[str, jax.Array], PackSpec]:
    """Concatenate the leaves of ``tree`` into a few flat buffers, grouped by dtype.

    The leaves :math:`x_1, \\dots, x_n` of each dtype :math:`d` (in ``jax.tree.leaves``
    order) are cut into consecutive runs :math:`R_{d,0}, R_{d,1}, \\dots` of whole leaves,
    each run holding at most ``max_buffer_size`` elements (a larger leaf is a run of its
    own), and each run becomes one buffer

    .. math:: b_{d,k} = \\operatorname{concat}\\big(\\operatorname{vec}(x_i) : i \\in R_{d,k}\\big)

    Why a cap on CPU: without donation every step allocates fresh output buffers, and
    buffers above glibc's largest ``mmap`` threshold (32 MiB) are mapped and
    page-faulted anew on every step, which can cost more than the step itself; buffers
    of about 4 MiB are reused from the heap. With ``donate_argnums`` the size does not
    matter. On GPU every buffer costs kernel launches, so there one buffer per dtype is
    best.

    No leaf changes dtype, so packing is exact, and ``unpack(*pack(tree))`` returns
    ``tree``. The buffers form a dict keyed by ``"<dtype>.<k>"`` (``{"float32.0": ...}``),
    itself a pytree, so any optimizer can ``init``/``update`` it directly. Elementwise transforms
    (`scale_by_adam`, `adamw`, `sgd`, `lion`, `add_decayed_weights`, `clip`, schedules
    ...) and `clip_by_global_norm` give the same numbers on the buffers as on the tree
    (the global norm up to floating-point summation order). Transforms that look at a
    leaf's *shape* -- `adafactor` / `scale_by_factored_rms`, `lamb` and `lars` (per-layer
    trust ratios), `clip_by_block_rms`, `adaptive_grad_clip`, masks keyed by leaf -- would
    treat each buffer as one big vector: run those on the unpacked tree.

    Typical use keeps the parameters packed for the whole run::

        flat, spec = gradtx.pack(params)
        opt_state = optimizer.init(flat)

        @jax.jit
        def step(flat, opt_state, batch):
            grads = jax.grad(lambda f: loss(gradtx.unpack(f, spec), batch))(flat)
            updates, opt_state = optimizer.update(grads, opt_state, flat)
            return gradtx.apply_updates(flat, updates), opt_state

    Args:
      tree: a pytree of arrays (``None`` leaves are kept as structure, not packed).
      max_buffer_size: the most elements one buffer holds (a single larger leaf still
        gets a buffer of its own), >= 1; ``None`` packs each dtype into one buffer;
        ``"auto"`` (default) is ``2**20`` when JAX's default backend is the CPU and
        ``None`` otherwise.

    Returns:
      ``(buffers, spec)``: a dict from buffer name to a 1-d array, and the `PackSpec`
      that `unpack` needs. An empty tree gives ``{}``.

    Raises:
      ValueError: if ``max_buffer_size`` is below 1 or a string other than ``"auto"``.
      TypeError: if ``max_buffer_size`` is not an integer.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tree = {"w": jnp.ones((2, 2)), "b": jnp.zeros(3), "s": jnp.ones(2, jnp.bfloat16)}
      >>> flat, spec = gradtx.pack(tree)
      >>> {k: v.shape for k, v in flat.items()}
      {'bfloat16.0': (2,), 'float32.0': (7,)}
      >>> gradtx.unpack(flat, spec)["w"].shape
      (2, 2)
    """
    if isinstance(max_buffer_size, str):
        validate.one_of("pack", "max_buffer_size", max_buffer_size, ("auto",))
        max_buffer_size = _CPU_BUFFER_SIZE if jax.default_backend() == "cpu" else None
    if max_buffer_size is not None:
        validate.integer("pack", "max_buffer_size", max_buffer_size, 1)
    leaves, treedef = jax.tree.flatten(tree)
    leaves = [jnp.asarray(x) for x in leaves]
    cap = max_buffer_size if max_buffer_size is not None else float("inf")
    names: list[str] = []
    members: list[list[int]] = []
    sizes: list[int] = []
    leaf_group = [0] * len(leaves)
    for dtype in sorted({jnp.dtype(x.dtype).name for x in leaves}):
        first = len(names)
        for i, x in enumerate(leaves):
            if jnp.dtype(x.dtype).name != dtype:
                continue
            if len(names) == first or (sizes[-1] > 0 and sizes[-1] + x.size > cap):
                names.append(f"{dtype}.{len(names) - first}")
                members.append([])
                sizes.append(0)
            members[-1].append(i)
            sizes[-1] += int(x.size)
            leaf_group[i] = len(names) - 1
    buffers = {}
    for name, idx in zip(names, members, strict=True):
        parts = [jnp.reshape(leaves[i], (-1,)) for i in idx]
        buffers[name] = parts[0] if len(parts) == 1 else jnp.concatenate(parts)
    spec = PackSpec(
        treedef=treedef,
        groups=tuple(names),
        group_sizes=tuple(sizes),
        leaf_group=tuple(leaf_group),
        leaf_shapes=tuple(tuple(int(d) for d in x.shape) for x in leaves),
    )
    return buffers, spec


def unpack(buffers: dict[str, jax.Array], spec: PackSpec) -> Any:
    """Split packed buffers back into the tree that `pack` was given.

    .. math:: x_i = \\operatorname{reshape}\\big(b_{d_i}[o_i : o_i + n_i],\\ \\text{shape}_i\\big)

    where :math:`o_i` is the leaf's offset in its dtype's buffer and :math:`n_i` its size.
    The split is one `jax.lax.split` per buffer, whose derivative is a single
    concatenation: under `jax.grad` the cotangent of the buffers is packed directly, with
    no per-leaf scatter. Forward-mode (`jax.jvp`) and `jax.vmap` work as usual.

    Args:
      buffers: the dict from `pack` (or any dict with the same keys and lengths, e.g.
        gradients or updates of the buffers).
      spec: the `PackSpec` from `pack`.

    Returns:
      The tree, with ``spec``'s structure and leaf shapes and the buffers' dtypes.

    Raises:
      ValueError: if the buffers' keys or lengths do not match ``spec``.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> params = {"w": jnp.ones((2, 3)), "b": jnp.ones(3)}
      >>> flat, spec = gradtx.pack(params)
      >>> def loss(f):
      ...     p = gradtx.unpack(f, spec)
      ...     return jnp.sum(p["w"] * 2.0) + jnp.sum(p["b"])
      >>> jax.grad(loss)(flat)["float32.0"].tolist()  # leaves in key order: b, then w
      [1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    """
    if set(buffers) != set(spec.groups):
        raise ValueError(
            f"unpack: buffers have keys {sorted(buffers)}, the spec expects {sorted(spec.groups)}"
        )
    pieces: list[list[jax.Array]] = []
    for name, size in zip(spec.groups, spec.group_sizes, strict=True):
        buf = buffers[name]
        if jnp.ndim(buf) != 1 or jnp.shape(buf)[0] != size:
            raise ValueError(
                f"unpack: buffer {name!r} has shape {jnp.shape(buf)}, the spec expects ({size},)"
            )
        sizes = [
            int(np.prod(shape, dtype=np.int64))
            for shape, g in zip(spec.leaf_shapes, spec.leaf_group, strict=True)
            if spec.groups[g] == name
        ]
        pieces.append(list(jax.lax.split(buf, sizes)) if len(sizes) > 1 else [buf])
    cursor = [0] * len(spec.groups)
    leaves = []
    for shape, g in zip(spec.leaf_shapes, spec.leaf_group, strict=True):
        leaves.append(jnp.reshape(pieces[g][cursor[g]], shape))
        cursor[g] += 1
    return jax.tree.unflatten(spec.treedef, leaves)
