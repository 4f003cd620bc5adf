"""Finding named fields inside nested optimizer states."""

from __future__ import annotations

from typing import Any

import jax


def _fields(node: Any) -> list[tuple[str, Any]] | None:
    if hasattr(node, "_fields") and isinstance(node, tuple):
        return [(f, getattr(node, f)) for f in node._fields]
    if isinstance(node, dict):
        return [(k, v) for k, v in node.items() if isinstance(k, str)]
    return None


def _children(node: Any) -> list[Any]:
    named = _fields(node)
    if named is not None:
        return [v for _, v in named]
    if isinstance(node, (list, tuple)):
        return list(node)
    return []


def find_all(state: Any, name: str) -> list[tuple[int, Any]]:
    """Every ``(depth, value)`` whose field or dict key is ``name``, shallowest first."""
    found: list[tuple[int, Any]] = []
    frontier = [(0, state)]
    while frontier:
        depth, node = frontier.pop(0)
        for key, value in _fields(node) or []:
            if key == name:
                found.append((depth, value))
        frontier.extend((depth + 1, child) for child in _children(node))
    return found


def get(state: Any, name: str, default: Any = ...) -> Any:
    """The value of the field (or dict key) ``name`` anywhere in a nested state.

    The shallowest match wins, so ``inject_hyperparams``' ``hyperparams["learning_rate"]``
    is found before an inner transform's field of the same name.

    Args:
      state: an optimizer state (NamedTuples, tuples, lists, dicts).
      name: the field name, e.g. ``"count"`` or ``"learning_rate"``.
      default: returned when nothing matches; without it a ``KeyError`` is raised.

    Returns:
      The value found.

    Raises:
      KeyError: when ``name`` is absent (and no default) or matches several fields
        at the same, shallowest depth.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> opt = gradtx.adam(1e-3)
      >>> state = opt.init({"w": jnp.zeros(2)})
      >>> float(gradtx.tree.get(state, "learning_rate"))
      0.001
    """
    found = find_all(state, name)
    if not found:
        if default is not ...:
            return default
        raise KeyError(f"tree.get: no field named {name!r} in the state")
    depth = found[0][0]
    shallowest = [v for d, v in found if d == depth]
    if len(shallowest) > 1:
        raise KeyError(
            f"tree.get: {len(shallowest)} fields named {name!r} at the same depth; "
            "look inside the state by hand to choose one"
        )
    return shallowest[0]


def set(state: Any, **values: Any) -> Any:  # noqa: A001 - mirrors get
    """Return ``state`` with every field named by a keyword replaced by its value.

    Args:
      state: an optimizer state.
      **values: ``field=value`` pairs.

    Returns:
      The new state (NamedTuples updated with ``_replace``, dicts copied).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.chain(gradtx.scale_by_adam(), gradtx.scale(-1e-3))
      >>> state = tx.init({"w": jnp.zeros(2)})
      >>> state = gradtx.tree.set(state, count=jnp.array(10, jnp.int32))
      >>> int(gradtx.tree.get(state, "count")), state[0].mu["w"].tolist()
      (10, [0.0, 0.0])
    """

    def rebuild(node):
        named = _fields(node)
        if isinstance(node, tuple) and hasattr(node, "_fields"):
            updates = {k: (values[k] if k in values else rebuild(v)) for k, v in named}
            return node._replace(**updates)
        if isinstance(node, dict):
            return {k: (values[k] if k in values else rebuild(v)) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return type(node)(rebuild(c) for c in node)
        return node

    return rebuild(state)


def leaves_with_path(tree: Any) -> list[tuple[str, Any]]:
    """``(path string, leaf)`` pairs, e.g. ``("['w']", array)``."""
    return [(jax.tree_util.keystr(p), x) for p, x in jax.tree_util.tree_leaves_with_path(tree)]
