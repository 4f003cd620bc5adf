"""Cost of curvature products and Lanczos in gradtx.second_order, against naive versions.

For an MLP (about 1M parameters by default) it times, as a ratio of one
``jax.value_and_grad``:

* ``hvp`` (forward-over-reverse, ``jax.jvp`` of ``jax.grad``) against the naive
  reverse-over-reverse product ``grad(v . grad f)``;
* 20 steps of ``lanczos`` on ``hvp_operator`` (one linearization, full
  reorthogonalization, one compiled ``fori_loop``) against the same 20 steps written
  naively: a Python loop of jitted reverse-over-reverse products on a raveled vector;
* for a small MLP, the dense ``jax.hessian`` + ``eigh`` (all eigenvalues) against the
  same Lanczos run.

Compilation is timed separately (``jit(f).lower(...).compile()``); steady-state times are
the median of ``--repeats`` calls, each ended by ``block_until_ready``.

The ``peers`` section times gradtx's spectra and trace estimators against matfree (same
matvec) and PyHessian (its own torch graph) on logistic regression (breast cancer, 31
parameters), an MLP on digits (100k parameters) and a 1M-parameter MLP, interleaved per
row, printing gradtx / peer ratios (peers that are not installed are skipped).

Usage::

    python benchmarks/bench_second_order.py [--quick] [--repeats R] [--steps N]
        [--section all|products|peers] [--only all|logreg|digits|1m]

Sample printout (one NVIDIA H200, jax 0.11.2, default settings, ``--repeats 10``)::

    gradtx.second_order benchmark | jax 0.11.2 | backend gpu | cuda:0
    name                                    params    compile s       ms/call   x value_and_grad
    value_and_grad                         1068810        2.687         0.203               1.00
    hvp (forward-over-reverse)             1068810        3.376         0.240               1.18
    hvp naive (reverse-over-reverse)       1068810        1.570         0.234               1.15
    lanczos 20 steps                       1068810        1.829         6.569              32.38
    lanczos 20 steps naive (host loop)     1068810        3.180        35.946             177.18
    value_and_grad                            2074        0.964         0.136               1.00
    hvp (forward-over-reverse)                2074        1.091         0.201               1.48
    hvp naive (reverse-over-reverse)          2074        0.751         0.161               1.19
    lanczos 20 steps                          2074        1.416         1.867              13.78
    lanczos 20 steps naive (host loop)        2074        1.937        32.946             243.09
    dense hessian + eigh                      2074        1.999        26.871             198.27

At this size a GPU step is launch-bound (0.2 ms for a 1M-parameter gradient), so the
products cost about one gradient each; Lanczos pays for its per-step reductions and
reorthogonalization but runs as one compiled loop, 5x faster than the host loop.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from gradtx import second_order


def _mlp(sizes: Sequence[int], batch: int, seed: int = 0):
    """Parameters, data and a cross-entropy loss for an MLP with ``sizes`` layer widths."""
    rng = np.random.default_rng(seed)
    params = [
        {
            "w": jnp.asarray(rng.normal(size=(m, n)) / np.sqrt(m), jnp.float32),
            "b": jnp.zeros((n,), jnp.float32),
        }
        for m, n in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    x = jnp.asarray(rng.normal(size=(batch, sizes[0])), jnp.float32)
    y = jax.nn.one_hot(rng.integers(0, sizes[-1], size=batch), sizes[-1], dtype=jnp.float32)

    def loss(p, x, y):
        h = x
        for i, layer in enumerate(p):
            h = h @ layer["w"] + layer["b"][None, :]
            if i < len(p) - 1:
                h = jnp.tanh(h)
        return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(h), axis=-1))

    return params, x, y, loss


def _time(fn: Callable[..., Any], args: tuple[Any, ...], repeats: int, jit: bool = True):
    """``(compile seconds, median seconds per call)``."""
    if jit:
        start = time.perf_counter()
        compiled = jax.jit(fn).lower(*args).compile()
        compile_s = time.perf_counter() - start
    else:  # a host loop of jitted pieces: the first (warm-up) call stands for compilation
        compiled = fn
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        compile_s = time.perf_counter() - start
    jax.block_until_ready(compiled(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - start)
    return compile_s, statistics.median(times)


def _naive_hvp(loss):
    """Reverse-over-reverse: the gradient of ``v . grad f``."""

    def hvp(p, v, x, y):
        return jax.grad(lambda q: _tree_dot(jax.grad(loss)(q, x, y), v))(p)

    return hvp


def _tree_dot(a, b):
    return sum(jnp.vdot(u, w) for u, w in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def _naive_lanczos(loss, params, x, y, steps: int):
    """Lanczos written naively: raveled vectors, a Python loop, reverse-over-reverse products."""
    flat0, unravel = ravel_pytree(params)
    hvp = _naive_hvp(loss)
    matvec = jax.jit(lambda v: ravel_pytree(hvp(params, unravel(v), x, y))[0])

    def run(v):
        q = v / jnp.linalg.norm(v)
        basis = jnp.zeros((steps, q.size), q.dtype)
        alphas, betas = [], []
        q_prev, beta = jnp.zeros_like(q), jnp.zeros([], q.dtype)
        for j in range(steps):
            basis = basis.at[j].set(q)
            w = matvec(q)
            alpha = jnp.vdot(w, q)
            w = w - alpha * q - beta * q_prev
            w = w - basis.T @ (basis @ w)
            beta = jnp.linalg.norm(w)
            alphas.append(alpha)
            betas.append(beta)
            q_prev, q = q, w / beta
        t = jnp.diag(jnp.stack(alphas))
        off = jnp.stack(betas[:-1])
        t = t + jnp.diag(off, 1) + jnp.diag(off, -1)
        return jnp.linalg.eigvalsh(t)

    return run, jnp.ones_like(flat0)


def _rows(sizes, batch, steps, repeats, dense: bool) -> list[dict[str, Any]]:
    params, x, y, loss = _mlp(sizes, batch)
    n = sum(leaf.size for leaf in jax.tree.leaves(params))
    v = jax.tree.map(jnp.ones_like, params)
    naive_hvp = _naive_hvp(loss)
    cases = [
        ("value_and_grad", lambda p, x, y: jax.value_and_grad(loss)(p, x, y), (params, x, y)),
        (
            "hvp (forward-over-reverse)",
            lambda p, v, x, y: second_order.hvp(loss, p, v, x, y),
            (params, v, x, y),
        ),
        ("hvp naive (reverse-over-reverse)", naive_hvp, (params, v, x, y)),
        (
            f"lanczos {steps} steps",
            lambda p, x, y: (
                second_order.lanczos(
                    second_order.hvp_operator(loss, p, x, y), jax.tree.map(jnp.ones_like, p), steps
                ).eigenvalues
            ),
            (params, x, y),
        ),
    ]
    rows = []
    for name, fn, args in cases:
        compile_s, run_s = _time(fn, args, repeats)
        rows.append({"name": name, "params": n, "compile_s": compile_s, "run_s": run_s})
    naive, v0 = _naive_lanczos(loss, params, x, y, steps)
    compile_s, run_s = _time(naive, (v0,), max(1, repeats // 2), jit=False)
    rows.append(
        {
            "name": f"lanczos {steps} steps naive (host loop)",
            "params": n,
            "compile_s": compile_s,
            "run_s": run_s,
        }
    )
    if dense:
        dense_fn = lambda p, x, y: jnp.linalg.eigvalsh(second_order.hessian(loss, p, x, y))
        compile_s, run_s = _time(dense_fn, (params, x, y), repeats)
        rows.append(
            {"name": "dense hessian + eigh", "params": n, "compile_s": compile_s, "run_s": run_s}
        )
    base = rows[0]["run_s"]
    for row in rows:
        row["ratio"] = row["run_s"] / base
    return rows


# --- against matfree and PyHessian ----------------------------------------------------
#
# Every row runs gradtx and its peers on the same problem, interleaved (one call of each
# per round, ``--repeats`` rounds), after compilation; the table shows medians and the
# ratio gradtx / peer. The JAX peers (matfree) get the very same matvec as gradtx
# (``hvp_operator``, built inside the timed function); PyHessian builds its own graph
# (``loss.backward(create_graph=True)``) inside its timed call, like ``hvp_operator``.


def _logreg_problem(dtype):
    """Logistic regression on the breast-cancer data (569 x 30, standardized): 31 params."""
    try:
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer()
        x, y = data.data, data.target.astype(np.float64)
    except ImportError:  # same shapes, synthetic
        rng = np.random.default_rng(0)
        x = rng.normal(size=(569, 30))
        y = (x[:, 0] + 0.5 * rng.normal(size=569) > 0).astype(np.float64)
    x = (x - x.mean(0)) / x.std(0)
    rng = np.random.default_rng(1)
    params = {
        "w": jnp.asarray(0.1 * rng.normal(size=30), dtype),
        "b": jnp.asarray(0.0, dtype),
    }

    def loss(p, x, y):
        z = x @ p["w"] + p["b"]
        return jnp.mean(jax.nn.softplus(z) - y * z)

    return params, (jnp.asarray(x, dtype), jnp.asarray(y, dtype)), loss


def _mlp_problem(sizes, data, dtype, seed=0):
    """A tanh MLP with softmax cross-entropy; ``data`` is "digits" or a batch size."""
    rng = np.random.default_rng(seed)
    if data == "digits":
        try:
            from sklearn.datasets import load_digits

            d = load_digits()
            x, labels = d.data / 16.0, d.target
        except ImportError:
            x, labels = rng.uniform(size=(1797, 64)), rng.integers(0, 10, size=1797)
    else:
        x, labels = rng.normal(size=(data, sizes[0])), rng.integers(0, sizes[-1], size=data)
    params = [
        {
            "w": jnp.asarray(rng.normal(size=(m, n)) / np.sqrt(m), dtype),
            "b": jnp.asarray(0.01 * rng.normal(size=n), dtype),
        }
        for m, n in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    y = np.eye(sizes[-1])[labels]

    def loss(p, x, y):
        h = x
        for i, layer in enumerate(p):
            h = h @ layer["w"] + layer["b"]
            if i < len(p) - 1:
                h = jnp.tanh(h)
        return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(h), axis=-1))

    return params, (jnp.asarray(x, dtype), jnp.asarray(y, dtype)), loss


def _torch_mlp(params, data):
    """The same MLP (weights copied) and loss in PyTorch float64, for PyHessian."""
    import torch

    layers = []
    for i, layer in enumerate(params):
        w = np.asarray(layer["w"])
        lin = torch.nn.Linear(w.shape[0], w.shape[1]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.copy_(torch.from_numpy(np.asarray(layer["b"]).copy()))
        layers.append(lin)
        if i < len(params) - 1:
            layers.append(torch.nn.Tanh())
    model = torch.nn.Sequential(*layers)
    x = torch.from_numpy(np.asarray(data[0]).copy())
    y = torch.from_numpy(np.asarray(data[1]).argmax(-1))
    return model, torch.nn.CrossEntropyLoss(), (x, y)


def _pyhessian():
    """PyHessian's ``hessian`` class, or None. ``torch.eig`` (gone from torch 2) is shimmed
    with ``torch.linalg.eigh`` for its ``density`` (the tridiagonal T is symmetric)."""
    try:
        import torch
        from pyhessian import hessian
    except ImportError:
        return None

    def eig(t, eigenvectors=False):
        w, v = torch.linalg.eigh(t)
        return torch.stack([w, torch.zeros_like(w)], 1), v

    torch.eig = eig  # the removed torch.eig raises; PyHessian's density calls it
    return hessian


def _pyhessian_thunk(hessian, torch_problem, method, **kwargs):
    """A call of PyHessian: build its graph (``backward(create_graph=True)``), run ``method``."""
    model, criterion, tdata = torch_problem

    def thunk():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about create_graph=True's cycle
            out = getattr(hessian(model, criterion, data=tdata, cuda=False), method)(**kwargs)
        for param in model.parameters():
            param.grad = None  # break the cycle create_graph=True leaves
        return out

    return thunk


def _matfree():
    try:
        import matfree.decomp
        import matfree.eig
        import matfree.stochtrace
    except ImportError:
        return None
    return matfree


def _density_from(nodes, weights, grid_size=10_000, sigma_squared=1e-5):
    """The smoothed density of Ghorbani et al. from SLQ nodes/weights (for the peers)."""
    lo, hi = jnp.min(nodes), jnp.max(nodes)
    width = jnp.maximum(hi - lo, 1.0)
    variance = sigma_squared * width
    margin = 0.01 * width + 5.0 * jnp.sqrt(variance)
    grid = jnp.linspace(lo - margin, hi + margin, grid_size, dtype=nodes.dtype)
    diff = grid[None, :, None] - nodes[:, None, :]
    kernel = jnp.exp(-0.5 * diff**2 / variance) / jnp.sqrt(2.0 * jnp.pi * variance)
    return grid, jnp.mean(jnp.sum(kernel * weights[:, None, :], axis=2), axis=0)


def _jit(fn, *args):
    """``fn(*args)`` compiled ahead of time, as a thunk that blocks on its result."""
    compiled = jax.jit(fn).lower(*args).compile()
    return lambda: jax.block_until_ready(compiled(*args))


def _signs_estimator(mf, like, num):
    return mf.stochtrace.estimator_monte_carlo(
        mf.stochtrace.monte_carlo_trace(), mf.stochtrace.sampler_signs(like, num=num)
    )


def _random_tree(key, like):
    keys = jax.random.split(key, len(jax.tree.leaves(like)))
    leaves = [
        jax.random.normal(k, x.shape, x.dtype)
        for k, x in zip(keys, jax.tree.leaves(like), strict=True)
    ]
    return jax.tree.unflatten(jax.tree.structure(like), leaves)


def _lanczos_impls(mf, params, data, make, k, steps, key):
    def ours(p, d, key):
        return second_order.top_eigenvalues(make(p, d), p, k, key, num_steps=steps).eigenvalues

    impls = {"gradtx": _jit(ours, params, data, key)}
    if mf:
        eigh = mf.eig.eigh_partial(mf.decomp.tridiag_sym(steps, reortho="full"))

        def theirs(p, d, key):
            vals, _ = eigh(make(p, d), _random_tree(key, p))
            return vals[::-1][:k]

        impls["matfree"] = _jit(theirs, params, data, key)
    return impls


def _hutchinson_impls(mf, hessian, params, data, make, probes, key, torch_problem=None):
    impls = {
        "gradtx": _jit(
            lambda p, d, k: second_order.hutchinson_trace(make(p, d), p, k, probes),
            params,
            data,
            key,
        )
    }
    if mf:
        est = _signs_estimator(mf, params, probes)
        impls["matfree"] = _jit(lambda p, d, k: est(make(p, d), k), params, data, key)
    if hessian and torch_problem:
        impls["PyHessian"] = _pyhessian_thunk(
            hessian, torch_problem, "trace", maxIter=probes, tol=-1.0
        )
    return impls


def _power_impls(hessian, params, data, make, iters, torch_problem):
    v0 = jax.tree.map(jnp.ones_like, params)
    impls = {
        "gradtx": _jit(
            lambda p, d, v: second_order.power_iteration(make(p, d), v, iters, tol=0.0).eigenvalue,
            params,
            data,
            v0,
        )
    }
    if hessian:
        impls["PyHessian"] = _pyhessian_thunk(
            hessian, torch_problem, "eigenvalues", maxIter=iters, tol=-1.0
        )
    return impls


def _slq_impls(mf, hessian, params, data, make, steps, key, torch_problem):
    def ours(p, d, k):
        return second_order.eigenvalue_density(make(p, d), p, k, num_steps=steps, num_probes=2)

    impls = {"gradtx": _jit(lambda p, d, k: ours(p, d, k).density, params, data, key)}
    if mf:
        tridiag = mf.decomp.tridiag_sym(steps, reortho="full", materialize=True)

        def theirs(p, d, key):
            matvec = make(p, d)

            def one(k):
                theta, s = jnp.linalg.eigh(tridiag(matvec, _random_tree(k, p)).J_small)
                return theta, s[0] ** 2

            nodes, weights = jax.lax.map(one, jax.random.split(key, 2))
            return _density_from(nodes, weights)[1]

        impls["matfree"] = _jit(theirs, params, data, key)
    if hessian:
        impls["PyHessian"] = _pyhessian_thunk(hessian, torch_problem, "density", iter=steps, n_v=2)
    return impls


def _free_operator(params):
    """A diagonal operator on the tree (elementwise products): Lanczos' own overhead."""
    diag = jax.tree.map(
        lambda x: jnp.linspace(0.1, 2.0, x.size, dtype=x.dtype).reshape(x.shape), params
    )
    return diag, lambda p, d: lambda v: jax.tree.map(jnp.multiply, d, v)


def peer_cases(quick: bool, which: str = "all"):
    """``[(problem, task, {impl: thunk}, same_algorithm)]`` for the peer table."""
    mf = _matfree()
    hessian = _pyhessian()
    dtype = jnp.float64
    key = jax.random.key(0)
    cases = []
    hvp = lambda loss: lambda p, d: second_order.hvp_operator(loss, p, *d)  # noqa: E731

    if which in ("all", "logreg"):
        params, data, loss = _logreg_problem(dtype)
        label = "logreg (31)"
        probes = 200 if quick else 2000
        cases.append(
            (
                label,
                f"Hutchinson trace, {probes} probes",
                _hutchinson_impls(mf, None, params, data, hvp(loss), probes, key),
                True,
            )
        )
        impls = {
            "gradtx": _jit(
                lambda p, d, k: second_order.hutchpp_trace(hvp(loss)(p, d), p, k, 30),
                params,
                data,
                key,
            )
        }
        if mf:
            xtrace = mf.stochtrace.estimator_leave_one_out(
                mf.stochtrace.leave_one_out_xtrace(), mf.stochtrace.sampler_normal(params, num=15)
            )
            impls["matfree"] = _jit(lambda p, d, k: xtrace(hvp(loss)(p, d), k), params, data, key)
        cases.append((label, "Hutch++, 30 matvecs (matfree: XTrace)", impls, False))
        cases.append(
            (
                label,
                "Lanczos top-3, 20 steps",
                _lanczos_impls(mf, params, data, hvp(loss), 3, 20, key),
                True,
            )
        )

    if which in ("all", "digits"):
        sizes = [64, 40 if quick else 1333, 10]
        params, data, loss = _mlp_problem(sizes, "digits", dtype)
        torch_problem = _torch_mlp(params, data) if hessian else None
        label = f"MLP digits ({sum(x.size for x in jax.tree.leaves(params))})"
        steps = 20 if quick else 60
        cases.append(
            (
                label,
                f"Lanczos top-5, {steps} steps",
                _lanczos_impls(mf, params, data, hvp(loss), 5, steps, key),
                True,
            )
        )
        diag, make = _free_operator(params)
        cases.append(
            (
                label,
                f"Lanczos top-5, {steps} steps, free matvec",
                _lanczos_impls(mf, params, diag, make, 5, steps, key),
                True,
            )
        )
        slq_steps = 20 if quick else 50
        cases.append(
            (
                label,
                f"SLQ density, 2 probes x {slq_steps} steps",
                _slq_impls(mf, hessian, params, data, hvp(loss), slq_steps, key, torch_problem),
                True,
            )
        )
        iters = 20 if quick else 100
        cases.append(
            (
                label,
                f"power iteration, {iters} iterations",
                _power_impls(hessian, params, data, hvp(loss), iters, torch_problem),
                True,
            )
        )
        probes = 10 if quick else 100
        cases.append(
            (
                label,
                f"Hutchinson trace, {probes} probes",
                _hutchinson_impls(mf, hessian, params, data, hvp(loss), probes, key, torch_problem),
                True,
            )
        )

    if which in ("all", "1m"):
        sizes = [64, 48, 10] if quick else [784, 1024, 256, 10]
        params, data, loss = _mlp_problem(sizes, 16 if quick else 128, dtype, seed=2)
        torch_problem = _torch_mlp(params, data) if hessian else None
        label = f"MLP ({sum(x.size for x in jax.tree.leaves(params))})"
        steps = 10 if quick else 20
        cases.append(
            (
                label,
                f"Lanczos top-5, {steps} steps",
                _lanczos_impls(mf, params, data, hvp(loss), 5, steps, key),
                True,
            )
        )
        cases.append(
            (
                label,
                f"power iteration, {steps} iterations",
                _power_impls(hessian, params, data, hvp(loss), steps, torch_problem),
                True,
            )
        )
        cases.append(
            (
                label,
                f"Hutchinson trace, {steps} probes",
                _hutchinson_impls(mf, hessian, params, data, hvp(loss), steps, key, torch_problem),
                True,
            )
        )
    return cases


def peer_rows(
    quick: bool, repeats: int, which: str = "all", echo: bool = True
) -> list[dict[str, Any]]:
    """Time each case's implementations interleaved: ``repeats`` rounds, one sample each.

    A sample is the mean of ``inner`` back-to-back calls, ``inner`` chosen per row from the
    warm-up so that a sample lasts at least 20 ms (sub-millisecond rows are otherwise all
    scheduler noise); the order of the implementations alternates between rounds. Each
    row is printed as soon as it is measured when ``echo``.
    """
    rows = []
    for problem, task, impls, same in peer_cases(quick, which):
        slowest = 0.0
        for thunk in impls.values():  # warm-up (and first-call costs of torch)
            start = time.perf_counter()
            thunk()
            slowest = max(slowest, time.perf_counter() - start)
        inner = max(1, min(200, int(0.02 / max(slowest, 1e-6))))
        times = {name: [] for name in impls}
        for r in range(repeats):
            names = list(impls) if r % 2 == 0 else list(impls)[::-1]
            for name in names:
                start = time.perf_counter()
                for _ in range(inner):
                    impls[name]()
                times[name].append((time.perf_counter() - start) / inner)
        ours = statistics.median(times["gradtx"])
        row = {"problem": problem, "task": task, "same": same, "gradtx_s": ours, "peers": {}}
        for name in impls:
            if name != "gradtx":
                theirs = statistics.median(times[name])
                row["peers"][name] = (theirs, ours / theirs)
        rows.append(row)
        if echo:
            print("\n".join(_peer_table([row]).splitlines()[1:]), flush=True)
    return rows


def _peer_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'problem':<20} {'task':<44} {'gradtx ms':>10} {'peer':>10} {'peer ms':>10} "
        f"{'ratio':>7} {'target':>7}"
    ]
    for r in rows:
        target = "0.8" if r["same"] else "1.0"
        if not r["peers"]:
            lines.append(f"{r['problem']:<20} {r['task']:<44} {1e3 * r['gradtx_s']:>10.2f}")
        for name, (theirs, ratio) in r["peers"].items():
            lines.append(
                f"{r['problem']:<20} {r['task']:<44} {1e3 * r['gradtx_s']:>10.2f} {name:>10} "
                f"{1e3 * theirs:>10.2f} {ratio:>7.2f} {target:>7}"
            )
    return "\n".join(lines)


def _header() -> str:
    device = jax.devices()[0]
    return (
        f"gradtx.second_order benchmark | jax {jax.__version__} | backend "
        f"{jax.default_backend()} | {device}"
    )


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'name':<36} {'params':>9} {'compile s':>12} {'ms/call':>13} {'x value_and_grad':>18}"
    ]
    for r in rows:
        lines.append(
            f"{r['name']:<36} {r['params']:>9} {r['compile_s']:>12.3f} "
            f"{1e3 * r['run_s']:>13.3f} {r['ratio']:>18.2f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print the tables.

    Args:
      argv: command-line arguments (``--quick``, ``--repeats R``, ``--steps N``,
        ``--section {all,products,peers}``, ``--only {all,logreg,digits,1m}``).

    Returns:
      ``{"products": rows, "peers": rows}``: product rows are dicts with ``name``,
      ``params``, ``compile_s``, ``run_s`` and ``ratio`` (``run_s`` over the
      ``value_and_grad`` time of the same model); peer rows have ``problem``, ``task``,
      ``same`` (same algorithm as the peer), ``gradtx_s`` and ``peers`` (``{name: (seconds,
      gradtx / peer)}``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds in all")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per row")
    parser.add_argument("--steps", type=int, default=20, help="Lanczos steps (products table)")
    parser.add_argument("--section", choices=("all", "products", "peers"), default="all")
    parser.add_argument("--only", choices=("all", "logreg", "digits", "1m"), default="all")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 10)
    print(_header())
    out: dict[str, Any] = {"products": [], "peers": []}
    if args.section in ("all", "products"):
        if args.quick:
            rows = _rows([16, 24, 10], batch=8, steps=args.steps, repeats=repeats, dense=True)
        else:
            # ~1.07M parameters: 784 -> 1024 -> 256 -> 10.
            rows = _rows(
                [784, 1024, 256, 10], batch=128, steps=args.steps, repeats=repeats, dense=False
            )
            rows += _rows([32, 48, 10], batch=64, steps=args.steps, repeats=repeats, dense=True)
        print(_table(rows))
        out["products"] = rows
    if args.section in ("all", "peers"):
        print(_peer_table([]), flush=True)
        # The peers are run as their users would: default promotion rules (matfree
        # broadcasts ranks implicitly, which the test suite's strict settings refuse).
        with (
            jax.enable_x64(True),
            jax.numpy_rank_promotion("allow"),
            jax.numpy_dtype_promotion("standard"),
        ):
            rows = peer_rows(args.quick, repeats, args.only)
        missing = [
            name
            for name, mod in (("matfree", _matfree()), ("PyHessian", _pyhessian()))
            if mod is None
        ]
        if missing:
            print(f"not installed (rows skipped): {', '.join(missing)}")
        print(_peer_table(rows))
        out["peers"] = rows
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
