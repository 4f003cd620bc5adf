"""Every registry entry checkpointed with Orbax mid-run, resumed in a fresh process.

Run as ``python -m tests.checkpoint._orbax_worker MODE FOLDER [--sharded]``:

* ``run``: train every entry (its own copy of the params) for ``STOP`` steps, save
  ``{params, states}`` with ``orbax.checkpoint.StandardCheckpointer`` to ``FOLDER/mid``,
  restore it at once and compare it with what was saved; train on to ``STEPS`` and save
  ``FOLDER/uninterrupted``;
* ``resume``: restore ``FOLDER/mid`` (a fresh process: nothing carried over but the
  checkpoint; the target structure comes from ``init``), train from ``STOP`` to ``STEPS``
  and compare with ``FOLDER/uninterrupted``.

With ``--sharded`` (8 CPU devices) the params live on a 2x4 mesh and every state is
initialised with `gradtx.sharding.state_shardings`; the restore asks for those shardings.
Prints one JSON object: per entry, the leaves that differ (bits, dtype, shape, tree
structure or sharding), and counts of the typed keys, ``None`` nodes and empty states saved.

All entries run in one jitted ``lax.scan`` (compiled once per process), as in
``tests/sharding/_registry_worker.py``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from jax.sharding import Mesh, NamedSharding

import gradtx
from tests.helpers import gradient_sequence
from tests.registry import ENTRIES
from tests.sharding import _registry_worker
from tests.test_contract import _extra, _make

STEPS = 4
STOP = 2


def _is_key(x) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _bits(leaf):
    if _is_key(leaf):
        return (str(leaf.dtype), *_bits(jax.random.key_data(leaf)))
    array = np.asarray(leaf)
    return str(array.dtype), array.shape, array.tobytes()


def differences(got, want, *, shardings: bool, bits: bool = True) -> list[str]:
    """Every way ``got`` differs from ``want``: structure, or a leaf's bits or sharding."""
    if jax.tree.structure(got) != jax.tree.structure(want):
        return [f"structure {jax.tree.structure(got)} != {jax.tree.structure(want)}"]
    bad = []
    got_leaves = jax.tree_util.tree_flatten_with_path(got)[0]
    for (path, a), b in zip(got_leaves, jax.tree.leaves(want), strict=True):
        where = jax.tree_util.keystr(path)
        if bits and _bits(a) != _bits(b):
            bad.append(f"{where}: bits/dtype/shape")
        elif shardings and _normalized(a.sharding, a.ndim) != _normalized(b.sharding, b.ndim):
            bad.append(f"{where}: sharding {a.sharding} != {b.sharding}")
    return bad


def _counts(tree) -> dict[str, int]:
    nodes = jax.tree_util.tree_flatten(tree, is_leaf=lambda x: x is None)[0]
    empty = jax.tree_util.tree_flatten(
        tree, is_leaf=lambda x: isinstance(x, tuple) and hasattr(x, "_fields") and not x
    )[0]
    return {
        "keys": sum(_is_key(x) for x in jax.tree.leaves(tree)),
        "none": sum(x is None for x in nodes),
        "empty_states": sum(isinstance(x, tuple) and not x for x in empty),
        "zero_size": sum(_is_empty(x) for x in jax.tree.leaves(tree)),
    }


_normalized = _registry_worker._normalized


def _params():
    """The sharding test's params plus a ``None`` leaf (so states hold ``None`` fields)."""
    return {**_registry_worker._params(), "none": None}


def _specs():
    return {**_registry_worker._specs(), "none": None}


def _setup(sharded: bool):
    txs = [_make(e) for e in ENTRIES]
    params = _params()
    init_shardings = None
    if sharded:
        assert jax.device_count() == 8, jax.devices()
        mesh = Mesh(np.array(jax.devices()).reshape(2, 4), ("data", "model"))
        specs = _specs()
        params = jax.device_put(
            params,
            {k: None if s is None else NamedSharding(mesh, s) for k, s in specs.items()},
        )
        param_sh = jax.tree.map(lambda x: x.sharding, params)
        init_shardings = (
            tuple(param_sh for _ in txs),
            tuple(gradtx.sharding.state_shardings(tx, params, mesh) for tx in txs),
        )

    def init_all(params):
        return tuple(params for _ in txs), tuple(tx.init(params) for tx in txs)

    init = jax.jit(init_all, out_shardings=init_shardings)

    def train(carry, grads):
        """``len(grads)`` steps of every entry, each on its own params, in one scan."""

        def body(carry, g):
            all_params, states = carry
            new_params, new_states = [], []
            for e, tx, p, s in zip(ENTRIES, txs, all_params, states, strict=True):
                updates, s = tx.update(g, s, p, **_extra(e, p, g))
                new_params.append(gradtx.apply_updates(p, updates))
                new_states.append(s)
            return (tuple(new_params), tuple(new_states)), None

        return jax.lax.scan(body, carry, grads)[0]

    out_sh = init_shardings
    grads = gradient_sequence(_params(), STEPS, seed=7)
    stacked = [
        jax.tree.map(lambda *g: jnp.stack(g), *grads[a:b]) for a, b in ((0, STOP), (STOP, STEPS))
    ]
    return init(params), jax.jit(train, out_shardings=out_sh), stacked


def _abstract(tree):
    """The restore target: shapes, dtypes (typed keys included) and shardings of ``tree``."""
    return jax.tree.map(ocp.utils.to_shape_dtype_struct, _without_empty(tree))


def _is_empty(x) -> bool:
    return isinstance(x, jax.Array) and x.size == 0


def _without_empty(tree):
    """``tree`` with each zero-size array (Orbax refuses to save them; e.g. galore's
    projector of a leaf it does not project) saved as ``None``."""
    return jax.tree.map(lambda x: None if _is_empty(x) else x, tree)


def _save(checkpointer, path: Path, tree) -> None:
    checkpointer.save(path, _without_empty(tree))
    checkpointer.wait_until_finished()


def _restore(checkpointer, path: Path, like):
    """Restore into ``like``'s structure; a zero-size array holds no bits, so it is
    ``like``'s own (its shape, dtype and sharding)."""
    restored = checkpointer.restore(path, _abstract(like))
    return jax.tree.map(
        lambda got, want: want if _is_empty(want) else got,
        restored,
        like,
        is_leaf=lambda x: x is None,
    )


def _report(carry_a, carry_b, *, sharded: bool, bits: bool = True) -> dict:
    out = {}
    for i, e in enumerate(ENTRIES):
        a = (carry_a[0][i], carry_a[1][i])
        b = (carry_b[0][i], carry_b[1][i])
        out[e.name] = differences(a, b, shardings=sharded, bits=bits)
    return out


def main(mode: str, folder: Path, sharded: bool) -> None:
    jax.config.update("jax_numpy_dtype_promotion", "strict")
    jax.config.update("jax_numpy_rank_promotion", "raise")
    t0 = time.perf_counter()
    carry0, train, (first, second) = _setup(sharded)
    checkpointer = ocp.StandardCheckpointer()
    if mode == "run":
        mid = train(carry0, first)
        _save(checkpointer, folder / "mid", mid)
        restored = _restore(checkpointer, folder / "mid", carry0)
        full = train(mid, second)
        _save(checkpointer, folder / "uninterrupted", full)
        report = {"roundtrip": _report(restored, mid, sharded=sharded), "counts": _counts(mid[1])}
    elif mode == "resume":
        mid = _restore(checkpointer, folder / "mid", carry0)
        resumed = train(mid, second)
        full = _restore(checkpointer, folder / "uninterrupted", carry0)
        report = {
            "resumed": _report(resumed, full, sharded=sharded),
            "restored_shardings": _report(mid, carry0, sharded=sharded, bits=False),
        }
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    checkpointer.close()
    print(f"{mode}: {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]).resolve(), "--sharded" in sys.argv[3:])
