"""SOAP: the reference (nikhilvyas/SOAP ``soap.py``) in float64 NumPy, the identities
(identity bases: Adam; diagonal gradients: Adam), the skipped first step, the refresh under
``lax.switch``, dtypes, jit = eager, validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from tests.contrib._common import STACKED_LAYOUTS, assert_stacked_is_separate, matrix_params
from tests.helpers import assert_trees_close, gradient_sequence, run_updates

# Slow (CI runs it): trajectories against Optax and the papers.
pytestmark = pytest.mark.slow

contrib = gradtx.contrib


class _ReferenceSoap:
    """``SOAP.step`` of nikhilvyas/SOAP ``soap.py`` for one tensor (merge_dims=False,
    weight_decay=0, data_format channels_first), in float64: ``init_preconditioner`` /
    ``update_preconditioner`` / ``project`` / ``project_back`` /
    ``get_orthogonal_matrix`` (eigh, flipped) / ``get_orthogonal_matrix_QR``."""

    def __init__(self, shape, b1, b2, shampoo_beta, eps, freq, max_dim, precondition_1d):
        self.b1, self.b2, self.sb, self.eps, self.freq = b1, b2, shampoo_beta, eps, freq
        self.step = None
        self.exp_avg, self.exp_avg_sq = np.zeros(shape), np.zeros(shape)
        if len(shape) == 1 and (not precondition_1d or shape[0] > max_dim):
            self.GG = [None]
        else:
            self.GG = [np.zeros((d, d)) if d <= max_dim else None for d in shape]
        self.Q = None

    def _update_preconditioner(self, grad):
        for i, m in enumerate(self.GG):
            if m is not None:
                others = [a for a in range(grad.ndim) if a != i]
                outer = np.tensordot(grad, grad, axes=(others, others))
                self.GG[i] = m + (1 - self.sb) * (outer - m)  # lerp_
        if self.Q is None:
            self.Q = [None if m is None else np.flip(np.linalg.eigh(m)[1], 1) for m in self.GG]
        if self.step > 0 and self.step % self.freq == 0:
            final, exp_avg_sq = [], self.exp_avg_sq
            for i, (m, o) in enumerate(zip(self.GG, self.Q)):
                if m is None:
                    final.append(None)
                    continue
                est_eig = np.diag(o.T @ m @ o)
                sort_idx = np.argsort(-est_eig, kind="stable")
                exp_avg_sq = np.take(exp_avg_sq, sort_idx, axis=i)
                o = o[:, sort_idx]
                final.append(np.linalg.qr(m @ o)[0])
            self.exp_avg_sq, self.Q = exp_avg_sq, final

    def _project(self, x, back=False):
        for mat in self.Q:
            if mat is not None:
                x = np.tensordot(x, mat, axes=([0], [1 if back else 0]))
            else:
                x = np.moveaxis(x, 0, -1)
        return x

    def step_update(self, grad):
        """The parameter change ``-update / lr`` of one ``step`` call."""
        if self.step is None:
            self.step = 0
            self._update_preconditioner(grad)
            return np.zeros_like(grad)
        grad_projected = self._project(grad)
        self.step += 1
        self.exp_avg = self.b1 * self.exp_avg + (1 - self.b1) * grad
        self.exp_avg_sq = self.b2 * self.exp_avg_sq + (1 - self.b2) * grad_projected**2
        denom = np.sqrt(self.exp_avg_sq) + self.eps
        exp_avg_projected = self._project(self.exp_avg)
        step_size = np.sqrt(1 - self.b2**self.step) / (1 - self.b1**self.step)
        norm_grad = self._project(exp_avg_projected / denom, back=True)
        self._update_preconditioner(grad)
        return step_size * norm_grad


@pytest.mark.slow
@pytest.mark.parametrize("precondition_1d", [False, True])
def test_matches_the_reference(x64, precondition_1d):
    rng = np.random.default_rng(0)
    shapes = {"w": (4, 3), "t": (2, 3, 7), "b": (5,)}  # t's last axis is longer than max_dim
    b1, b2, sb, eps, freq, max_dim = 0.9, 0.95, 0.8, 1e-8, 3, 6
    grads = [
        {k: rng.normal(size=s) * 10 ** rng.uniform(-1, 1) for k, s in shapes.items()}
        for _ in range(25)
    ]
    refs = {
        k: _ReferenceSoap(s, b1, b2, sb, eps, freq, max_dim, precondition_1d)
        for k, s in shapes.items()
    }
    tx = contrib.scale_by_soap(
        b1,
        b2,
        sb,
        eps,
        precondition_frequency=freq,
        max_precond_dim=max_dim,
        precondition_1d=precondition_1d,
    )
    params = {k: jnp.zeros(s) for k, s in shapes.items()}
    history, _, state = run_updates(tx, params, [jax.tree.map(jnp.asarray, g) for g in grads])
    for t, (u, g) in enumerate(zip(history, grads, strict=True)):
        for k in shapes:
            np.testing.assert_allclose(
                u[k], refs[k].step_update(g[k]), rtol=1e-9, atol=1e-12, err_msg=f"{k} step {t}"
            )
    assert state.bases["t"][2] is None and state.stats["t"][2] is None
    assert (state.bases["b"][0] is None) == (not precondition_1d)


@pytest.mark.parametrize("jit", [True, False])
def test_with_identity_bases_it_is_adam(jit):
    # eps = 0: SOAP adds eps before the bias correction, Adam after
    params = matrix_params()
    grads = gradient_sequence(params, 25, seed=6)
    ours, _, _ = run_updates(
        contrib.scale_by_soap(0.9, 0.99, eps=0.0, max_precond_dim=0), params, grads, jit=jit
    )
    adam, _, _ = run_updates(gradtx.scale_by_adam(0.9, 0.99, 0.0), params, grads[1:], jit=jit)
    assert all(bool(jnp.all(x == 0)) for x in jax.tree.leaves(ours[0]))
    for a, e in zip(ours[1:], adam, strict=True):
        assert_trees_close(a, e, rtol=2e-6, atol=1e-7)


def test_on_diagonal_gradients_it_is_adam(x64):
    # Shampoo's statistics of diagonal matrices are diagonal: every basis is a signed
    # permutation (eigh, then power iteration + QR keep it one), and Adam commutes with those.
    # float64: the rounding of the rotations' zeros, divided by eps, stays below 1e-8.
    rng = np.random.default_rng(7)
    grads = [
        {"w": jnp.asarray(np.diag(rng.normal(size=4) * [1, 2, 3, 4]), jnp.float64)}
        for _ in range(25)
    ]
    params = {"w": jnp.zeros((4, 4), jnp.float64)}
    ours, _, state = run_updates(
        contrib.scale_by_soap(0.9, 0.99, precondition_frequency=2), params, grads
    )
    adam, _, _ = run_updates(gradtx.scale_by_adam(0.9, 0.99), params, grads[1:])
    for a, e in zip(ours[1:], adam, strict=True):
        assert_trees_close(a, e, rtol=1e-6, atol=1e-7)
    q = np.abs(np.asarray(state.bases["w"][0]))
    np.testing.assert_allclose(np.sort(q, axis=0)[-1], np.ones(4), rtol=1e-5)  # a permutation


def test_the_refresh_is_under_a_switch():
    tx = contrib.scale_by_soap()
    params = {"w": jnp.ones((3, 4))}
    jaxpr = jax.make_jaxpr(tx.update)(params, tx.init(params))
    top = {e.primitive.name for e in jaxpr.jaxpr.eqns}
    assert "cond" in top
    assert not top & {"eigh", "householder_product", "geqrf", "qr"}
    # and a long run compiles once
    update = jax.jit(tx.update)
    state = tx.init(params)
    for _ in range(12):
        _, state = update(params, state)
    assert update._cache_size() == 1


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_keeps_dtypes_and_none_leaves(dtype):
    params = dict(matrix_params(dtype), n=None)
    tx = contrib.soap(0.01)
    state, update = tx.init(params), jax.jit(tx.update)
    for _ in range(3):
        u, state = update(params, state, params)
    assert u["n"] is None
    for x in jax.tree.leaves(u):
        assert x.dtype == dtype and bool(jnp.all(jnp.isfinite(x.astype(jnp.float32))))
    assert state[0].stats["w"][0].dtype == jnp.float32
    assert state[0].nu["w"].dtype == dtype


def test_soap_descends_on_a_matrix_least_squares():
    rng = np.random.default_rng(8)
    a = jnp.asarray(rng.normal(size=(8, 6)) @ np.diag([1, 2, 4, 8, 16, 32]), jnp.float32)
    b = jnp.asarray(rng.normal(size=(8, 5)), jnp.float32)
    loss = lambda w: jnp.mean((a @ w - b) ** 2)  # noqa: E731
    tx = contrib.soap(0.05, weight_decay=0.0, precondition_frequency=5)
    w = jnp.zeros((6, 5))

    @jax.jit
    def step(w, state):
        u, state = tx.update(jax.grad(loss)(w), state, w)
        return w + u, state

    state = tx.init(w)
    for _ in range(150):
        w, state = step(w, state)
    best = float(loss(jnp.linalg.lstsq(a, b)[0]))
    assert float(loss(w)) < best + 0.1 * (float(loss(jnp.zeros((6, 5)))) - best)


def test_validation():
    with pytest.raises(ValueError, match=r"scale_by_soap\(b2=1\.0\)"):
        contrib.scale_by_soap(b2=1.0)
    with pytest.raises(ValueError, match=r"scale_by_soap\(shampoo_beta=-0\.5\)"):
        contrib.soap(0.1, shampoo_beta=-0.5)
    with pytest.raises(ValueError, match="precondition_frequency"):
        contrib.scale_by_soap(precondition_frequency=0)
    with pytest.raises(TypeError, match="max_precond_dim"):
        contrib.scale_by_soap(max_precond_dim=2.5)


@pytest.mark.parametrize(("shape", "axes", "take"), STACKED_LAYOUTS)
def test_stacked_matrices_are_separate_matrices(shape, axes, take):
    # a refresh every 2 steps: steps 2 and 4 refresh, step 1 sets the bases
    make = lambda **kw: contrib.scale_by_soap(precondition_frequency=2, **kw)  # noqa: E731
    assert_stacked_is_separate(make, shape, axes, take)


def test_stacked_refresh_stays_one_switch():
    dims = contrib.MuonDimensionNumbers(1, 2)
    tx = contrib.soap(0.1, dimension_numbers=dims)
    params = jnp.ones((3, 4, 5))
    state = tx.init(params)
    assert [x.shape for x in state[0].bases] == [(3, 4, 4), (3, 5, 5)]
    jaxpr = jax.make_jaxpr(tx.update)(params, state, params)
    top = {e.primitive.name for e in jaxpr.jaxpr.eqns}
    assert "cond" in top and not top & {"eigh", "householder_product", "geqrf", "qr"}


@pytest.mark.parametrize(
    ("axes", "match"), [((1, 3), "in \\[-3, 3\\)"), ((1, 1), "twice"), (((0, 1), -2), "twice")]
)
def test_bad_dimension_numbers(axes, match):
    tx = contrib.scale_by_soap(dimension_numbers=contrib.MuonDimensionNumbers(*axes))
    with pytest.raises(ValueError, match="scale_by_soap: .*" + match):
        tx.init(jnp.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="scale_by_soap: .*rank >= 2"):
        contrib.soap(0.1, dimension_numbers=contrib.MuonDimensionNumbers()).init(jnp.zeros(3))
