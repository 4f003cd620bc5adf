"""Subprocess worker for ``tests/test_contract_buffers.py`` (2 forced CPU devices).

For every registry entry: the state leaves that are shaped like a parameter must have
that parameter's sharding after an eager ``init`` on sharded params. Prints one JSON
object ``{entry name: [offending leaf paths]}`` (entries with no offence left out).
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from tests.registry import ENTRIES


def main() -> None:
    mesh = Mesh(jax.devices()[:2], ("x",))
    # Every shape distinct (and none a hyperparameter-sized vector: mechanize keeps one
    # entry per beta, 6; L-BFGS one weight per memory slot, 10), so a state leaf's shape
    # names its parameter.
    specs = {"w": ((8, 14), P("x", None)), "b": ((12,), P("x")), "v": ((5,), P())}
    params = {
        k: jax.device_put(
            jnp.linspace(0.1, 1.0, int(jnp.prod(jnp.asarray(s)))).reshape(s),
            NamedSharding(mesh, spec),
        )
        for k, (s, spec) in specs.items()
    }
    by_shape = {p.shape: p.sharding for p in params.values()}
    bad: dict[str, list[str]] = {}
    for entry in ENTRIES:
        state = entry.factory(**entry.kwargs).init(params)
        wrong = []
        for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
            if not isinstance(leaf, jax.Array) or leaf.shape not in by_shape:
                continue
            if not leaf.sharding.is_equivalent_to(by_shape[leaf.shape], leaf.ndim):
                wrong.append(f"{jax.tree_util.keystr(path)}: {leaf.sharding}")
        if wrong:
            bad[entry.name] = wrong
    print(json.dumps(bad))


if __name__ == "__main__":
    main()
