"""The Hessian-diagonal estimators of AdaHessian and Sophia, as transforms (internal).

Both read the estimate from `gradtx.second_order` (`hessian_diag` for Hutchinson,
`gauss_newton_bartlett_diag` for GNB) at ``params``; the key is carried in a
`HutchinsonState`, as in Optax's `hutchinson_estimator_diag_hessian`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from gradtx import second_order
from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, GradientTransformationExtraArgs, numerics, validate

ESTIMATORS = ("hutchinson", "gnb")


class HutchinsonState(NamedTuple):
    """State of `hutchinson_estimator_diag_hessian` (and of the estimators of
    `scale_by_adahessian` and ``sophia(estimator=...)``).

    Attributes:
      key: the PRNG key the next estimate splits.
    """

    key: jax.Array


def diag_estimator(
    fn: str, estimator: str, key: Any, num_samples: int = 1
) -> GradientTransformationExtraArgs:
    """A transform whose ``update`` returns a Hessian-diagonal estimate at ``params``.

    ``"hutchinson"``: ``hessian_diag(value_fn, params, key=k, num_samples=num_samples)``
    (Rademacher probes; ``update`` needs ``value_fn=``). ``"gnb"``:
    ``gauss_newton_bartlett_diag(logits_fn, params, key=k)`` (``update`` needs
    ``logits_fn=``). ``k`` is split off the key in the state at each call.
    """
    validate.one_of(fn, "estimator", estimator, ESTIMATORS)
    validate.integer(fn, "num_samples", num_samples, 1)
    needs = "value_fn" if estimator == "hutchinson" else "logits_fn"

    def init_fn(params):
        del params
        return HutchinsonState(key=key if key is not None else jax.random.PRNGKey(0))

    def update_fn(updates, state, params=None, **extra_args):
        del updates
        validate.require_params(fn, params)
        f = validate.require_extra_arg(fn, extra_args, needs)
        key, subkey = jax.random.split(state.key)
        if estimator == "hutchinson":
            diag = second_order.hessian_diag(f, params, key=subkey, num_samples=num_samples)
        else:
            diag = second_order.gauss_newton_bartlett_diag(f, params, key=subkey)
        return diag, HutchinsonState(key)

    return GradientTransformationExtraArgs(init_fn, update_fn)


def refresh_every(
    interval: int,
    estimator: GradientTransformation,
    count: jax.Array,
    estimator_state: Any,
    moment: Any,
    decay: Any,
    order: int,
    updates: Any,
    params: Any,
    extra_args: dict[str, Any],
    transform: Any = None,
) -> tuple[Any, Any]:
    """On steps ``count % interval == 0`` (inside `jax.lax.cond`): the EMA of the
    ``order``-th power of ``estimator``'s estimate (after ``transform``) in ``moment``'s
    dtypes; otherwise the state and ``moment`` as they are. Returns both."""

    def refresh(est_state, moment):
        diag, est_state = estimator.update(updates, est_state, params=params, **extra_args)
        if transform is not None:
            diag = transform(diag)
        return est_state, tree_lib.cast_like(
            numerics.update_moment(diag, moment, decay, order), moment
        )

    return jax.lax.cond(
        count % interval == 0, refresh, lambda h, m: (h, m), estimator_state, moment
    )


def init_state(state_cls: Any, params: Any, mu_dtype: Any, estimator: GradientTransformation):
    """``state_cls(count, mu, nu, hessian_fn_state)`` at zero (Sophia's, AdaHessian's)."""
    return state_cls(
        count=numerics.zero_count(),
        mu=tree_lib.zeros_like(params, dtype=mu_dtype),
        nu=tree_lib.zeros_like(params),
        hessian_fn_state=estimator.init(params),
    )


def first_moment(fn: str, updates: Any, state: Any, params: Any, b1: Any):
    """The checks of an ``update`` and the new ``(count, mu)``."""
    validate.require_params(fn, params)
    validate.tree_match(fn, updates, state.nu)
    return numerics.safe_increment(state.count), numerics.update_moment(updates, state.mu, b1, 1)
