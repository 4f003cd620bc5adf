"""Sophia: momentum preconditioned by a clipped EMA of a Hessian-diagonal estimate."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.contrib._curvature import (
    ESTIMATORS,
    HutchinsonState,
    diag_estimator,
    first_moment,
    init_state,
    refresh_every,
)
from gradtx.core import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Updates,
    chain,
    numerics,
    validate,
    with_extra_args_support,
)
from gradtx.transforms import add_decayed_weights, scale_by_learning_rate

__all__ = ["HutchinsonState", "SophiaState", "hutchinson_estimator_diag_hessian", "sophia"]


class SophiaState(NamedTuple):
    """State of Sophia (the first transform of `sophia`).

    Attributes:
      count: updates so far (int32, saturating).
      mu: momentum, dtype ``mu_dtype`` or the parameter's.
      nu: EMA of the Hessian-diagonal estimates (the parameter's dtype).
      hessian_fn_state: the state of ``hessian_diagonal_fn``.
    """

    count: jax.Array
    mu: Updates
    nu: Updates
    hessian_fn_state: Any


def hutchinson_estimator_diag_hessian(random_seed: jax.Array | None = None):
    r"""Hutchinson's estimate of the Hessian diagonal, as a transform.

    .. math:: \hat h = z \odot (\nabla^2 f(x)\, z), \qquad z_i \sim \pm 1

    ``update(updates, state, params, obj_fn=f)`` ignores ``updates`` and returns the
    estimate at ``params`` (a Hessian-vector product, forward over reverse); on a
    diagonal Hessian it is exact. ``sophia`` calls it every ``update_interval`` steps.

    Args:
      random_seed: a PRNG key (default ``jax.random.PRNGKey(0)``, as Optax).

    Returns:
      A `GradientTransformationExtraArgs` with `HutchinsonState`; ``update`` needs
      ``params`` and ``obj_fn``.

    Raises:
      ValueError: at ``update`` without ``params`` or ``obj_fn``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> est = gradtx.contrib.hutchinson_estimator_diag_hessian()
      >>> f = lambda x: jnp.sum(jnp.array([1.0, 2.0, 3.0]) * x ** 2)
      >>> x = jnp.ones(3)
      >>> h, _ = est.update(x, est.init(x), x, obj_fn=f)
      >>> h.tolist()  # exact for a diagonal Hessian
      [2.0, 4.0, 6.0]

    References:
      Hutchinson, "A stochastic estimator of the trace of the influence matrix for
      Laplacian smoothing splines", 1989; Bekas et al., "An estimator for the diagonal of
      a matrix", 2007
    """
    fn = "hutchinson_estimator_diag_hessian"

    def init_fn(params):
        del params
        return HutchinsonState(
            key=random_seed if random_seed is not None else jax.random.PRNGKey(0)
        )

    def update_fn(updates, state, params=None, obj_fn=None, **extra_args):
        del updates, extra_args
        validate.require_params(fn, params)
        if obj_fn is None:
            raise ValueError(f"{fn}: update() needs obj_fn=...; pass the loss function.")
        key, subkey = jax.random.split(state.key)
        signs = tree_lib.random_like(subkey, params, jax.random.rademacher, dtype=jnp.float32)
        signs = tree_lib.cast(signs, numerics.lowest_float_dtype(params))
        hvp = jax.jvp(jax.grad(obj_fn), (params,), (signs,))[1]
        return jax.tree.map(lambda h, z: h * z.astype(h.dtype), hvp, signs), HutchinsonState(key)

    return GradientTransformationExtraArgs(init_fn, update_fn)


_HUTCHINSON = hutchinson_estimator_diag_hessian()  # Optax's default, one shared instance


def _print_win_rate(raw: Any, clip_threshold: Any, count: jax.Array, every: Any) -> None:
    """Print, every ``every`` steps, the fraction of coordinates the clip leaves alone
    (the paper's "win rate", Optax's ``verbose`` diagnostic, through `jax.debug.print`)."""
    leaves = jax.tree.leaves(raw)
    if not leaves:
        return
    kept = sum(jnp.sum(jnp.abs(u) < clip_threshold).astype(jnp.float32) for u in leaves)
    rate = kept / float(sum(u.size for u in leaves))
    jax.lax.cond(
        count % every == 0,
        lambda: jax.debug.print("Sophia optimizer win rate: {}", rate),
        lambda: None,
    )


def _scale_by_sophia(
    b1,
    b2,
    eps,
    gamma,
    clip_threshold,
    update_interval,
    hessian_diagonal_fn,
    mu_dtype,
    bias_correction,
    print_win_rate_every_n_steps=0,
) -> GradientTransformationExtraArgs:
    fn = "sophia"
    mu_dtype = numerics.canonicalize_dtype(mu_dtype)
    hessian_diagonal_fn = with_extra_args_support(hessian_diagonal_fn)

    def init_fn(params):
        return init_state(SophiaState, params, mu_dtype, hessian_diagonal_fn)

    def update_fn(updates, state, params=None, **extra_args):
        count, mu = first_moment(fn, updates, state, params, b1)
        mu_hat = numerics.bias_correction(mu, b1, count) if bias_correction else mu

        def precondition(m, h):
            den = jnp.maximum(
                numerics.scalar_mul(gamma, h), numerics.as_dtype(eps, jnp.result_type(h))
            )
            dtype = numerics.common_dtype(m.dtype, den.dtype)
            return m.astype(dtype) / den.astype(dtype)

        def clip(u, g):
            if clip_threshold is not None:
                c = numerics.as_dtype(clip_threshold, jnp.result_type(u))
                u = jnp.clip(u, -c, c)
            return u.astype(g.dtype)

        raw = jax.tree.map(precondition, mu_hat, state.nu)
        if print_win_rate_every_n_steps and clip_threshold is not None:
            _print_win_rate(raw, clip_threshold, count, print_win_rate_every_n_steps)
        new = jax.tree.map(clip, raw, updates)

        hess_state, nu = refresh_every(
            update_interval,
            hessian_diagonal_fn,
            state.count,
            state.hessian_fn_state,
            state.nu,
            b2,
            1,
            updates,
            params,
            extra_args,
        )
        return new, SophiaState(
            count=count, mu=tree_lib.cast_like(mu, state.mu), nu=nu, hessian_fn_state=hess_state
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


def sophia(
    learning_rate: Any,
    b1: float = 0.965,
    b2: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 1e-4,
    weight_decay_mask: Any = None,
    gamma: float = 0.01,
    clip_threshold: float | None = 1.0,
    update_interval: int = 10,
    hessian_diagonal_fn: GradientTransformation = _HUTCHINSON,
    mu_dtype: Any = None,
    verbose: bool = False,
    print_win_rate_every_n_steps: int = 0,
    *,
    bias_correction: bool = True,
    estimator: str | None = None,
    key: jax.Array | None = None,
    num_samples: int = 1,
) -> GradientTransformationExtraArgs:
    r"""Sophia: clipped momentum over a Hessian-diagonal EMA, with decoupled weight decay.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad \hat m_t = m_t / (1-\beta_1^t) \\
        u_t = -\eta_t \Big(\mathrm{clip}\big(\hat m_t / \max(\gamma h_{t-1}, \epsilon),
        \pm c\big) + \lambda x_t\Big) \\
        h_t = \beta_2 h_{t-1} + (1-\beta_2) \hat H_t \quad \text{every } k \text{ steps
        (from step 0), else } h_t = h_{t-1}

    :math:`\hat H_t` is ``hessian_diagonal_fn``'s estimate (Hutchinson by default, which
    needs ``obj_fn=`` at ``update``); the refresh runs inside `jax.lax.cond`.

    **The estimators of the paper** (``estimator=``, which replaces
    ``hessian_diagonal_fn``; the state keeps its structure, the key in a
    `HutchinsonState`):

    - ``"hutchinson"`` (Sophia-H): :math:`\hat H = z \odot \nabla^2 f\, z` averaged over
      ``num_samples`` Rademacher probes, by `gradtx.second_order.hessian_diag`; ``update``
      needs ``value_fn=`` (the loss of ``params``), like gradtx's other second-order
      transforms. The paper draws Gaussian probes; both are unbiased, Rademacher's have
      the smaller variance (and make a diagonal Hessian exact).
    - ``"gnb"`` (Sophia-G, Gauss-Newton-Bartlett): :math:`\hat H = B\, \hat g \odot
      \hat g`, :math:`\hat g` the gradient of the mean cross-entropy on labels sampled
      from the model's softmax, by `gradtx.second_order.gauss_newton_bartlett_diag`;
      ``update`` needs ``logits_fn=`` (``params -> (..., classes)`` logits of the batch).

    **Optax vs the reference.** Optax bias-corrects the momentum and has no batch-size
    factor; the reference (github.com/Liuhong99/Sophia, ``sophia.py``, ``SophiaG``; the
    estimate in ``train_sophiag.py``) keeps the EMA of :math:`\hat g \odot \hat g`,
    divides :math:`m_t` by :math:`\rho \cdot bs \cdot h + 10^{-15}` and clips at 1. As
    ``"gnb"`` already multiplies by :math:`B` (the paper's Algorithm 2),
    ``sophia(lr, gamma=rho, eps=1e-15, bias_correction=False, estimator="gnb")`` is that
    algorithm (up to :math:`\max(\gamma h, \epsilon)` for :math:`\gamma h + \epsilon`).

    Args:
      learning_rate: a number or a schedule.
      b1: momentum decay, in [0, 1). Default 0.965.
      b2: Hessian EMA decay, in [0, 1). Default 0.99.
      eps: lower bound of the denominator, >= 0. Default 1e-8.
      weight_decay: decoupled weight decay, >= 0. Default 1e-4.
      weight_decay_mask: mask of the weight decay.
      gamma: the scale :math:`\gamma` of the Hessian, > 0. Default 0.01.
      clip_threshold: the clip :math:`c` (``None``: no clipping). Default 1.
      update_interval: steps :math:`k` between Hessian estimates, >= 1. Default 10.
      hessian_diagonal_fn: the estimator, a transform returning the diagonal estimate.
      mu_dtype: storage dtype of the momentum.
      verbose: print the win rate (the fraction of coordinates the clip leaves alone; the
        authors keep it between 0.1 and 0.5) every ``print_win_rate_every_n_steps`` steps,
        through `jax.debug.print` (a host callback, only when asked), as Optax does.
      print_win_rate_every_n_steps: the printing period; 0 turns it off. Default 0.
      bias_correction: divide the momentum by :math:`1-\beta_1^t` (Optax); ``False``
        for the reference algorithm. Default True.
      estimator: ``None`` (use ``hessian_diagonal_fn``, Optax), ``"hutchinson"`` or
        ``"gnb"`` (see above). Default None.
      key: the PRNG key of ``estimator`` (default ``jax.random.PRNGKey(0)``).
      num_samples: Hutchinson probes per estimate, an integer >= 1. Default 1.

    Returns:
      A `GradientTransformationExtraArgs` (a `chain` whose first state is
      `SophiaState`); ``update`` needs ``params`` (and ``obj_fn`` for Optax's Hutchinson,
      ``value_fn`` or ``logits_fn`` for ``estimator``).

    Raises:
      ValueError: for hyperparameters outside the ranges above, an unknown
        ``estimator``, or both ``estimator`` and ``hessian_diagonal_fn``.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(jnp.array([1.0, 10.0]) * x ** 2)
      >>> tx = gradtx.contrib.sophia(0.1)
      >>> params = jnp.array([1.0, 1.0])
      >>> state = tx.init(params)
      >>> @jax.jit
      ... def step(params, state):
      ...     u, state = tx.update(jax.grad(f)(params), state, params, obj_fn=f)
      ...     return gradtx.apply_updates(params, u), state
      >>> for _ in range(20):
      ...     params, state = step(params, state)
      >>> bool(f(params) < 11.0)
      True

    References:
      Liu et al., "Sophia: A Scalable Stochastic Second-order Optimizer for Language
      Model Pre-training", ICLR 2024, https://arxiv.org/abs/2305.14342
    """
    fn = "sophia"
    validate.decay(fn, b1=b1, b2=b2)
    validate.non_negative(fn, eps=eps, weight_decay=weight_decay)
    validate.positive(fn, gamma=gamma)
    if clip_threshold is not None:
        validate.positive(fn, clip_threshold=clip_threshold)
    validate.integer(fn, "update_interval", update_interval, 1)
    if estimator is not None:
        validate.one_of(fn, "estimator", estimator, ESTIMATORS)
        if hessian_diagonal_fn is not _HUTCHINSON:
            raise ValueError(
                f"{fn}(estimator={estimator!r}): pass estimator or hessian_diagonal_fn, not both"
            )
        hessian_diagonal_fn = diag_estimator(fn, estimator, key, num_samples)
    return chain(
        _scale_by_sophia(
            b1,
            b2,
            eps,
            gamma,
            clip_threshold,
            update_interval,
            hessian_diagonal_fn,
            mu_dtype,
            bias_correction,
            print_win_rate_every_n_steps if verbose else 0,
        ),
        add_decayed_weights(weight_decay, weight_decay_mask),
        scale_by_learning_rate(learning_rate),
    )
