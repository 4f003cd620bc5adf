"""Exact, atomic checkpoints of optimizer states (or any pytree of arrays).

An optimizer state is a pytree of arrays, so it saves as one ``.npz`` file: every leaf's
raw bytes, its dtype, shape and tree path, plus the tree structure. ``restore`` checks the
structure, shapes and dtypes against a template (``like=``) and raises on any difference,
never reinterpreting data; restored leaves take the template leaves' shardings. Files are
written to a temporary name in the same folder and renamed into place, so a crash while
saving leaves the previous checkpoint intact.

Orbax or this module? States are plain pytrees, so ``orbax.checkpoint`` saves and restores
them exactly too (typed PRNG keys, ``None`` fields, empty states and sharded states
included; ``tests/checkpoint/test_orbax.py`` checks it for every public transform), and it
is the choice for asynchronous saves, retention policies and multi-host checkpoints of large
models. This module is kept for what Orbax does not do:

* no dependency beyond gradtx's own (NumPy; Orbax brings TensorStore, protobuf, ...), so
  exact resumption works in any environment gradtx installs in;
* a dtype mismatch is an error: Orbax restores a float32 leaf into a bfloat16 template
  by casting it, silently; ``restore`` raises `CheckpointMismatchError` naming the leaf
  (as it does for a different structure or shape, which Orbax also rejects);
* one self-describing file per checkpoint, written atomically (rename), rather than a
  folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["CheckpointMismatchError", "restore", "save"]

_FORMAT = "gradtx-checkpoint-1"


class CheckpointMismatchError(ValueError):
    """A checkpoint does not match the template it is restored into."""


def _leaf_record(leaf: Any) -> tuple[np.ndarray, dict[str, Any]]:
    if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        impl = str(jax.random.key_impl(leaf))
        data = np.asarray(jax.random.key_data(leaf))
        meta = {"kind": "key", "impl": impl, "dtype": str(data.dtype), "shape": list(data.shape)}
        return np.frombuffer(data.tobytes(), np.uint8), meta
    array = np.asarray(leaf)
    meta = {"kind": "array", "dtype": str(array.dtype), "shape": list(array.shape)}
    return np.frombuffer(np.ascontiguousarray(array).tobytes(), np.uint8), meta


def save(path: str | os.PathLike[str], tree: Any) -> Path:
    """Write ``tree`` to ``path`` (a ``.npz`` file) atomically.

    Args:
      path: the file to write; its folder must exist. An existing file is replaced only
        once the new one is complete.
      tree: a pytree of arrays (an optimizer state, params, or both in a dict).

    Returns:
      The path written.

    Examples:
      >>> import tempfile, os, jax.numpy as jnp, gradtx
      >>> opt = gradtx.adam(1e-3)
      >>> state = opt.init({"w": jnp.ones(3)})
      >>> f = os.path.join(tempfile.mkdtemp(), "state.npz")
      >>> restored = gradtx.checkpoint.restore(gradtx.checkpoint.save(f, state), like=state)
      >>> int(restored[0].count)
      0
    """
    path = Path(path)
    leaves_with_paths, treedef = jax.tree_util.tree_flatten_with_path(tree)
    arrays: dict[str, np.ndarray] = {}
    records = []
    for i, (key_path, leaf) in enumerate(leaves_with_paths):
        data, meta = _leaf_record(leaf)
        meta["path"] = jax.tree_util.keystr(key_path)
        arrays[f"leaf_{i}"] = data
        records.append(meta)
    header = {"format": _FORMAT, "treedef": str(treedef), "leaves": records}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def restore(path: str | os.PathLike[str], like: Any) -> Any:
    """Read a checkpoint written by `save` into the structure of ``like``.

    Args:
      path: the ``.npz`` file.
      like: a template tree (e.g. ``opt.init(params)``) with the expected structure,
        shapes and dtypes; restored leaves are placed with the template leaves' shardings.

    Returns:
      The restored tree, bit-identical to the saved one.

    Raises:
      CheckpointMismatchError: when the structure, a shape or a dtype differs, with the
        tree path of the first difference.

    Examples:
      >>> import os, tempfile, jax.numpy as jnp, gradtx
      >>> state = {"w": jnp.array([1.5, -2.0]), "count": jnp.array(7, jnp.int32)}
      >>> with tempfile.TemporaryDirectory() as d:
      ...     f = gradtx.checkpoint.save(os.path.join(d, "state.npz"), state)
      ...     back = gradtx.checkpoint.restore(f, like=state)
      ...     try:  # a template with another dtype is refused, not cast
      ...         gradtx.checkpoint.restore(f, like={**state, "w": jnp.zeros(2, jnp.bfloat16)})
      ...     except gradtx.checkpoint.CheckpointMismatchError:
      ...         print("mismatch")
      mismatch
      >>> back["w"].tolist(), int(back["count"]), back["count"].dtype
      ([1.5, -2.0], 7, dtype('int32'))
    """
    with np.load(Path(path)) as data:
        header = json.loads(bytes(data["header"]).decode())
        if header.get("format") != _FORMAT:
            raise CheckpointMismatchError(f"{path}: not a gradtx checkpoint")
        raw = [data[f"leaf_{i}"] for i in range(len(header["leaves"]))]
    like_leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    if str(treedef) != header["treedef"] or len(like_leaves) != len(raw):
        raise CheckpointMismatchError(
            f"{path}: the saved tree structure differs from the template.\n"
            f"  saved:    {header['treedef']}\n  template: {treedef}"
        )
    out = []
    for (key_path, ref), meta, buf in zip(like_leaves, header["leaves"], raw, strict=True):
        out.append(_restore_leaf(path, jax.tree_util.keystr(key_path), ref, meta, buf))
    return jax.tree.unflatten(jax.tree.structure(like), out)


def _restore_leaf(path, where: str, ref: Any, meta: dict[str, Any], buf: np.ndarray) -> Any:
    is_key = isinstance(ref, jax.Array) and jnp.issubdtype(ref.dtype, jax.dtypes.prng_key)
    if is_key != (meta["kind"] == "key"):
        raise CheckpointMismatchError(f"{path}: leaf {where} is a PRNG key in one tree only")
    if is_key:
        ref_data = jax.random.key_data(ref)
        expected_shape, expected_dtype = tuple(ref_data.shape), str(ref_data.dtype)
    else:
        expected_shape, expected_dtype = tuple(np.shape(ref)), str(jnp.result_type(ref))
    if tuple(meta["shape"]) != expected_shape or meta["dtype"] != expected_dtype:
        raise CheckpointMismatchError(
            f"{path}: leaf {where} was saved as {meta['dtype']}{meta['shape']} but the "
            f"template has {expected_dtype}{list(expected_shape)}"
        )
    array = np.frombuffer(buf.tobytes(), jnp.dtype(meta["dtype"])).reshape(meta["shape"])
    if is_key:
        return jax.random.wrap_key_data(
            jax.device_put(array, ref.sharding), impl=jax.random.key_impl(ref)
        )
    if isinstance(ref, jax.Array):
        return jax.device_put(array, ref.sharding)
    return jnp.asarray(array)
