"""lr_range_test: the LR finder as one compiled scan, its suggestion, and its plot."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx


def _mlp_problem(seed=0):
    """A teacher-student regression with a small tanh MLP and 16 minibatches of 32."""
    k = jax.random.split(jax.random.key(seed), 6)
    x = jax.random.normal(k[0], (512, 8))
    teacher_w = jax.random.normal(k[1], (8, 16))
    teacher_v = jax.random.normal(k[2], (16, 1)) / 4
    y = jnp.tanh(x @ teacher_w) @ teacher_v + 0.05 * jax.random.normal(k[3], (512, 1))
    a, b = jax.random.split(k[4])
    params = {
        "w1": jax.random.normal(a, (8, 32)) / jnp.sqrt(8.0),
        "b1": jnp.zeros(32),
        "w2": jax.random.normal(b, (32, 1)) / jnp.sqrt(32.0),
        "b2": jnp.zeros(1),
    }

    def loss_fn(p, batch):
        xb, yb = batch
        h = jnp.tanh(xb @ p["w1"] + p["b1"][None, :])
        return jnp.mean((h @ p["w2"] + p["b2"][None, :] - yb) ** 2)

    batches = (x.reshape(16, 32, 8), y.reshape(16, 32, 1))
    return loss_fn, params, batches, (x, y)


@pytest.mark.parametrize(
    "tx_factory",
    [lambda lr: gradtx.scale_by_learning_rate(lr), gradtx.adam],
    ids=["sgd", "adam"],
)
def test_suggested_lr_trains_better_than_10x_and_a_hundredth(tx_factory):
    loss_fn, params, batches, full = _mlp_problem()
    result = gradtx.lr_range_test(
        loss_fn, tx_factory, params, batches, min_lr=1e-5, max_lr=100.0, num_steps=100
    )
    suggested = float(result.suggested_lr)
    assert int(result.num_valid) < 100, "max_lr=100 must hit the divergence cut-off"

    @jax.jit
    def final_losses(lrs):
        def train(lr):
            tx = tx_factory(lr)

            def body(carry, t):
                p, s = carry
                batch = jax.tree.map(lambda a: a[t % 16], batches)
                u, s = tx.update(jax.grad(loss_fn)(p, batch), s, p)
                return (gradtx.apply_updates(p, u), s), None

            (p, _), _ = jax.lax.scan(body, (params, tx.init(params)), jnp.arange(150))
            return loss_fn(p, full)

        return jax.vmap(train)(lrs)

    low, mid, high = np.asarray(final_losses(jnp.asarray([0.01, 1.0, 10.0]) * suggested))
    assert mid < low, (suggested, low, mid, high)
    assert np.isnan(high) or mid < high, (suggested, low, mid, high)


def test_result_arrays_match_their_definitions():
    loss_fn, params, batches, _ = _mlp_problem()
    res = gradtx.lr_range_test(
        loss_fn,
        lambda lr: gradtx.scale_by_learning_rate(lr),
        params,
        batches,
        min_lr=1e-4,
        max_lr=1e3,
        num_steps=60,
        smoothing=0.9,
    )
    lrs = np.asarray(res.learning_rates, np.float64)
    assert lrs.shape == (60,) and res.losses.shape == (60,) and res.smoothed_losses.shape == (60,)
    np.testing.assert_allclose(lrs, 1e-4 * (1e7) ** (np.arange(60) / 59), rtol=1e-5)
    n = int(res.num_valid)
    assert 10 < n < 60
    losses = np.asarray(res.losses, np.float64)
    smoothed = np.asarray(res.smoothed_losses, np.float64)
    # Bias-corrected EMA of the raw losses, computed here in float64.
    avg, ref = 0.0, []
    for t in range(n):
        avg = 0.9 * avg + 0.1 * losses[t]
        ref.append(avg / (1 - 0.9 ** (t + 1)))
    np.testing.assert_allclose(smoothed[:n], ref, rtol=1e-5)
    # The step at the cut-off exceeds 4x the best smoothed loss; nothing is recorded after it.
    assert smoothed[n] > 4 * np.min(smoothed[: n + 1]) or not np.isfinite(smoothed[n])
    assert np.all(np.isnan(losses[n + 1 :])) and np.all(np.isnan(smoothed[n + 1 :]))
    assert float(res.suggested_lr) in set(lrs[:n].astype(np.float32).tolist())


def test_without_divergence_every_step_is_valid_and_the_loss_is_traced_once():
    calls = []

    def loss_fn(p):
        calls.append(None)
        return jnp.sum((p - 1.0) ** 2)

    res = gradtx.lr_range_test(
        loss_fn,
        lambda lr: gradtx.scale_by_learning_rate(lr),
        jnp.zeros(3),
        min_lr=1e-6,
        max_lr=0.3,
        num_steps=50,
    )
    assert int(res.num_valid) == 50
    assert np.all(np.isfinite(np.asarray(res.losses)))
    assert len(calls) == 1, "the steps must run inside one traced lax.scan, not a Python loop"


def test_plot(monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    loss_fn, params, batches, _ = _mlp_problem()
    res = gradtx.lr_range_test(
        loss_fn, gradtx.adam, params, batches, min_lr=1e-5, max_lr=10.0, num_steps=40
    )
    ax = gradtx.plot_lr_range_test(res)
    assert ax.get_xscale() == "log"
    assert len(ax.get_lines()) == 3
    fig, own = plt.subplots()
    assert gradtx.plot_lr_range_test(res, ax=own) is own
    plt.close("all")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(min_lr=0.0), ValueError, r"lr_range_test\(min_lr=0\.0\): min_lr must be > 0"),
        (dict(min_lr=1.0, max_lr=0.5), ValueError, r"lr_range_test\(max_lr=0\.5\): max_lr must"),
        (dict(num_steps=1), ValueError, r"lr_range_test\(num_steps=1\)"),
        (dict(smoothing=1.0), ValueError, r"lr_range_test\(smoothing=1\.0\)"),
        (dict(divergence_threshold=1.0), ValueError, r"lr_range_test\(divergence_threshold"),
        (dict(skip_start=-1), ValueError, r"lr_range_test\(skip_start=-1\)"),
        (dict(tx_factory=None), TypeError, r"lr_range_test\(tx_factory=None\)"),
    ],
)
def test_validation(kwargs, error, match):
    args = dict(
        loss_fn=lambda p: jnp.sum(p**2),
        tx_factory=gradtx.adam,
        params=jnp.ones(2),
    )
    args.update(kwargs)
    with pytest.raises(error, match=match):
        gradtx.lr_range_test(**args)
