"""Finding and replacing named fields inside nested optimizer states (Optax's semantics).

A *key* names a dict key, a NamedTuple field or a NamedTuple class (``"AddNoiseState"``).
Paths are JAX key paths in which a NamedTuple field appears as a `NamedTupleKey`, so a
``filtering(path, value)`` callable can tell two ``count`` fields of different states apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

from gradtx.core.structure import ParamsPlaceholder

Filtering = Callable[[tuple[Any, ...], Any], bool] | None


@dataclasses.dataclass(frozen=True)
class NamedTupleKey:
    """A path entry for the field ``name`` of a NamedTuple of class ``tuple_name``.

    Attributes:
      tuple_name: the NamedTuple's class name, e.g. ``"ScaleByAdamState"``.
      name: the field's name, e.g. ``"count"``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> state = gradtx.scale_by_adam().init({"w": jnp.zeros(1)})
      >>> [str(p[-1]) for p, _ in gradtx.tree.get_all_with_path(state, "count")]
      ['ScaleByAdamState.count']
    """

    tuple_name: str
    name: str

    def __str__(self) -> str:
        return f"{self.tuple_name}.{self.name}"


def _is_named_tuple(node: Any) -> bool:
    return isinstance(node, tuple) and hasattr(node, "_fields")


def _has_key(node: Any, keys: tuple[Any, ...]) -> bool:
    if _is_named_tuple(node):
        return type(node).__name__ in keys or any(k in node._fields for k in keys)
    return isinstance(node, dict) and any(k in node for k in keys)


def _named_children(path: tuple[Any, ...], node: Any) -> list[tuple[tuple[Any, ...], Any]]:
    """Children of a NamedTuple or a dict with their paths (in field / insertion order)."""
    if _is_named_tuple(node):
        name = type(node).__name__
        return [((*path, NamedTupleKey(name, f)), getattr(node, f)) for f in node._fields]
    return [((*path, jax.tree_util.DictKey(k)), v) for k, v in node.items()]


def _children(path: tuple[Any, ...], node: Any) -> list[tuple[tuple[Any, ...], Any]]:
    """The direct children of any pytree node (none for a leaf)."""
    if _is_named_tuple(node):
        return _named_children(path, node)
    if jax.tree_util.treedef_is_leaf(jax.tree.structure(node)):
        return []
    pairs, _ = jax.tree_util.tree_flatten_with_path(node, is_leaf=lambda x: x is not node)
    return [((*path, *p), child) for p, child in pairs]


def _outermost(path: tuple[Any, ...], node: Any, keys: tuple[Any, ...]) -> list[Any]:
    """The outermost nodes holding one of ``keys``, with their paths, in tree order."""
    if _has_key(node, keys):
        return [(path, node)]
    return [m for p, c in _children(path, node) for m in _outermost(p, c, keys)]


def _pick(path: tuple[Any, ...], node: Any, key: Any) -> tuple[tuple[Any, ...], Any]:
    """The match inside a node holding ``key``: itself (by class name) or its entry."""
    if _is_named_tuple(node):
        if type(node).__name__ == key:
            return path, node
        return (*path, NamedTupleKey(type(node).__name__, key)), getattr(node, key)
    return (*path, jax.tree_util.DictKey(key)), node[key]


def _find(path: tuple[Any, ...], tree: Any, key: Any) -> list[tuple[tuple[Any, ...], Any]]:
    holders = _outermost(path, tree, (key,))
    found = [_pick(p, node, key) for p, node in holders]
    for p, node in holders:  # matches nested below a match
        for cp, c in _named_children(p, node):
            found.extend(_find(cp, c, key))
    return found


def get_all_with_path(
    tree: Any, key: Any, filtering: Filtering = None
) -> list[tuple[tuple[Any, ...], Any]]:
    """Every ``(path, value)`` of ``tree`` whose dict key, field or NamedTuple class is ``key``.

    Args:
      tree: the tree to search (an optimizer state: NamedTuples, tuples, lists, dicts).
      key: the dict key, field name or NamedTuple class name.
      filtering: optional ``filtering(path, value) -> bool`` keeping only some matches.

    Returns:
      A list of ``(path, value)``; ``jax.tree_util.keystr(path)`` prints a path.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> tx = gradtx.chain(gradtx.scale_by_adam(), gradtx.add_noise(0.1, 0.5, key=0))
      >>> state = tx.init({"w": jnp.zeros(1)})
      >>> [jax.tree_util.keystr(p) for p, _ in gradtx.tree.get_all_with_path(state, "count")]
      ['[0]ScaleByAdamState.count', '[1]AddNoiseState.count']
    """
    found = _find((), tree, key)
    if filtering is not None:
        found = [(p, v) for p, v in found if filtering(p, v)]
    return found


def get(tree: Any, key: Any, default: Any = None, filtering: Filtering = None) -> Any:
    """The one value of ``tree`` matching ``key`` (a dict key, field or NamedTuple class).

    Args:
      tree: the tree to search.
      key: the dict key, field name or NamedTuple class name (``"AddNoiseState"``).
      default: returned when nothing matches.
      filtering: optional ``filtering(path, value) -> bool`` (see `get_all_with_path`).

    Returns:
      The value found, or ``default``.

    Raises:
      KeyError: when several values match (at any depths); narrow with ``filtering``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> state = gradtx.scale_by_adam().init({"w": jnp.zeros(2)})
      >>> int(gradtx.tree.get(state, "count")), gradtx.tree.get(state, "ema")
      (0, None)
      >>> tx = gradtx.chain(gradtx.add_noise(0.1, 0.5, key=0), gradtx.scale_by_adam())
      >>> type(gradtx.tree.get(tx.init(jnp.zeros(1)), "AddNoiseState")).__name__
      'AddNoiseState'
    """
    found = get_all_with_path(tree, key, filtering=filtering)
    if len(found) > 1:
        raise KeyError(
            f"Found multiple values for '{key}' in {tree}; "
            "select one with filtering=lambda path, value: ..."
        )
    return found[0][1] if found else default


def set(tree: Any, filtering: Filtering = None, /, **kwargs: Any) -> Any:  # noqa: A001
    """A copy of ``tree`` with every value matching a keyword's key replaced by its value.

    A keyword may name a dict key, a field or a NamedTuple class (the whole sub-state is
    replaced); a replaced value is not searched further. As in Optax 0.2.8, below a
    NamedTuple or dict that holds one of the keys only the children that themselves hold
    a key are searched: ``set(inject_state, count=c)`` sets the outer counter, not those
    inside ``inner_state`` (a plain tuple).

    Args:
      tree: the tree (an optimizer state).
      filtering: optional ``filtering(path, value) -> bool``; only matches it accepts
        are replaced (positional only, as in Optax).
      **kwargs: ``key=value`` pairs.

    Returns:
      The new tree (NamedTuples updated with ``_replace``, dicts copied).

    Raises:
      KeyError: when a key matches nothing (or nothing that ``filtering`` accepts).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.chain(gradtx.scale_by_adam(), gradtx.scale(-1e-3))
      >>> state = tx.init({"w": jnp.zeros(2)})
      >>> state = gradtx.tree.set(state, count=jnp.array(10, jnp.int32))
      >>> int(gradtx.tree.get(state, "count")), state[0].mu["w"].tolist()
      (10, [0.0, 0.0])
    """
    for key in kwargs:
        if not get_all_with_path(tree, key, filtering):
            how = " given the filtering operation" if filtering is not None else ""
            raise KeyError(f"Found no values matching '{key}'{how} in {tree}")
    accept = filtering or (lambda path, value: True)
    keys = tuple(kwargs)

    def rebuild(path, node):
        if not _has_key(node, keys):
            pairs = _children(path, node)
            if not pairs:
                return node
            treedef = jax.tree.structure(node, is_leaf=lambda x: x is not node)
            return jax.tree.unflatten(treedef, [rebuild(p, c) for p, c in pairs])
        if _is_named_tuple(node) and type(node).__name__ in kwargs and accept(path, node):
            return kwargs[type(node).__name__]
        new = {}
        for child_path, child in _named_children(path, node):
            name = child_path[-1].name if _is_named_tuple(node) else child_path[-1].key
            if name in kwargs and accept(child_path, child):
                new[name] = kwargs[name]
            else:  # as Optax: only a child that itself holds a key is searched further
                new[name] = rebuild(child_path, child) if _has_key(child, keys) else child
        return node._replace(**new) if _is_named_tuple(node) else new

    return rebuild((), tree)


def map_params(
    initable: Any,
    f: Callable[..., Any],
    state: Any,
    /,
    *rest: Any,
    transform_non_params: Callable[..., Any] | None = None,
    is_leaf: Callable[[Any], bool] | None = None,
) -> Any:
    """Apply ``f`` to every copy of the parameter tree inside an optimizer state.

    ``initable`` (a transform, or its ``init``) is called on a placeholder to learn which
    parts of the state are shaped like the parameters. The usual use: partition specs or
    shardings for the state from those of the parameters.

    Args:
      initable: a transform (anything with ``init``) or an ``init`` function.
      f: applied leafwise to each parameter-shaped subtree, ``f(leaf, *rest_leaves)``.
      state: the state to map over.
      *rest: trees shaped like the parameters, passed to ``f`` leaf by leaf.
      transform_non_params: optional function applied to every other leaf of the state.
      is_leaf: passed to ``jax.tree.map`` over the parameter-shaped subtrees.

    Returns:
      The mapped state.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> opt = gradtx.scale_by_adam()
      >>> params = {"w": jnp.zeros(2)}
      >>> out = gradtx.tree.map_params(
      ...     opt, lambda p: "param", opt.init(params), transform_non_params=lambda _: "other")
      >>> out.count, out.mu
      ('other', {'w': 'param'})
    """
    placeholder = ParamsPlaceholder()
    init = initable.init if hasattr(initable, "init") else initable
    template = init(placeholder)

    def one(slot, value):
        if isinstance(slot, ParamsPlaceholder):
            return jax.tree.map(f, value, *rest, is_leaf=is_leaf)
        return value if transform_non_params is None else transform_non_params(value)

    return jax.tree.map(one, template, state, is_leaf=lambda x: isinstance(x, ParamsPlaceholder))
