"""The Hessian-diagonal estimators of AdaHessian and Sophia, as transforms (internal).

Both read the estimate from `gradtx.second_order` (`hessian_diag` for Hutchinson,
`gauss_newton_bartlett_diag` for GNB) at ``params``; the key is carried in a
`HutchinsonState`, as in Optax's `hutchinson_estimator_diag_hessian`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from gradtx import second_order
from gradtx.core import GradientTransformationExtraArgs, validate

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
