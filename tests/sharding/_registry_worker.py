"""Run every registry entry on params sharded over a 2x4 mesh and on one device.

Run as ``python -m tests.sharding._registry_worker`` with
``XLA_FLAGS=--xla_force_host_platform_device_count=8``; prints one JSON object: per entry,
the state/update leaves whose sharding differs from the expected one, and the largest
relative difference from the one-device run. All entries run in one jitted ``lax.scan``
of two update steps (the state is initialised with ``out_shardings`` from
`gradtx.sharding.state_shardings`), compiled once sharded and once on one device: two
large compiles instead of hundreds of small ones.
"""

from __future__ import annotations

import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import gradtx
from tests.helpers import gradient_sequence
from tests.registry import ENTRIES
from tests.test_contract import _extra, _make


def _params():
    return {
        "w": jnp.linspace(-1.0, 1.0, 32, dtype=jnp.float32).reshape(8, 4),
        "b": jnp.full((4,), 0.1, jnp.float32),
        "s": jnp.asarray(0.5, jnp.float32),
    }


def _specs():
    return {"w": P("data", "model"), "b": P("model"), "s": P()}


def _normalized(sharding, ndim):
    """A comparable form of a sharding: the (padded) spec, or the repr if not named."""
    if isinstance(sharding, NamedSharding):
        spec = tuple(sharding.spec) + (None,) * (ndim - len(sharding.spec))
        return spec
    return repr(sharding)


def _max_rel(a, b):
    out = 0.0
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        with np.errstate(invalid="ignore"):
            diff = np.abs(x - y) / np.maximum(np.abs(y), 1e-3)
        diff = np.where((x == y) | (np.isnan(x) & np.isnan(y)), 0.0, diff)
        out = max(out, float(np.max(diff, initial=0.0)))
    return out


def main() -> None:
    jax.config.update("jax_numpy_dtype_promotion", "strict")
    jax.config.update("jax_numpy_rank_promotion", "raise")
    assert jax.device_count() == 8, jax.devices()
    mesh = Mesh(np.array(jax.devices()).reshape(2, 4), ("data", "model"))
    txs = [_make(e) for e in ENTRIES]

    def init_all(params):
        return tuple(tx.init(params) for tx in txs)

    def two_steps(grads, states, params):
        """Two updates of every entry in one ``lax.scan`` (its body is compiled once)."""

        def body(states, g):
            outs = [
                tx.update(g, s, params, **_extra(e, params, g))
                for e, tx, s in zip(ENTRIES, txs, states, strict=True)
            ]
            return tuple(s for _, s in outs), tuple(u for u, _ in outs)

        return jax.lax.scan(body, states, grads)

    grads = jax.tree.map(lambda *g: jnp.stack(g), *gradient_sequence(_params(), 2, seed=3))
    t0 = time.perf_counter()
    shardings = {k: NamedSharding(mesh, spec) for k, spec in _specs().items()}
    params = jax.device_put(_params(), shardings)
    expected = tuple(gradtx.sharding.state_shardings(tx, params, mesh) for tx in txs)
    states = jax.jit(init_all, out_shardings=expected)(params)
    stacked = {k: NamedSharding(mesh, P(None, *spec)) for k, spec in _specs().items()}
    final, updates = jax.jit(two_steps)(jax.device_put(grads, stacked), states, params)
    t1 = time.perf_counter()
    ref_final, ref_updates = jax.jit(two_steps)(grads, jax.jit(init_all)(_params()), _params())
    t2 = time.perf_counter()
    print(f"sharded {t1 - t0:.1f}s, one device {t2 - t1:.1f}s", file=sys.stderr)

    report = {}
    for i, e in enumerate(ENTRIES):
        checks = [("state", final[i], expected[i]), ("updates", updates[i], stacked)]
        bad = []
        for what, tree, want_tree in checks:
            leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
            for (path, leaf), want in zip(leaves, jax.tree.leaves(want_tree), strict=True):
                got = _normalized(leaf.sharding, leaf.ndim)
                if got != _normalized(want, leaf.ndim):
                    bad.append(f"{what}{jax.tree_util.keystr(path)}{tuple(leaf.shape)}: {got}")
        rel = _max_rel((final[i], updates[i]), (ref_final[i], ref_updates[i]))
        report[e.name] = {"bad": bad, "rel": rel}
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
