"""Gradient accumulation: ``MultiSteps`` and ``apply_every``."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gradtx import tree as tree_lib
from gradtx.core import ArrayTree, GradientTransformation, Params, Updates, numerics, validate
from gradtx.core.structure import is_none
from gradtx.wrappers._util import zeros_of

__all__ = ["ApplyEvery", "MultiSteps", "MultiStepsState", "apply_every"]

ShouldSkipUpdateFn = Callable[[Updates, jax.Array, Params | None], tuple[jax.Array, ArrayTree]]


class MultiStepsState(NamedTuple):
    """State of `MultiSteps` (Optax's field names).

    Attributes:
      mini_step: micro-batches accumulated since the last real step (int32, in ``[0, k)``).
      gradient_step: real (inner) steps taken so far (int32, saturating); the step that
        ``every_k_schedule`` is evaluated at.
      inner_opt_state: the wrapped optimizer's state; it changes only on real steps.
      acc_grads: the running mean (or sum) of this cycle's micro-batch gradients, in the
        accumulator dtype.
      skip_state: whatever ``should_skip_update_fn`` returned last (``()`` without one).
    """

    mini_step: jax.Array
    gradient_step: jax.Array
    inner_opt_state: Any
    acc_grads: Any
    skip_state: ArrayTree = ()


def _never_skip(updates, gradient_step, params):
    del updates, gradient_step, params
    return jnp.asarray(False), ()


class MultiSteps:
    """Accumulate gradients over ``k`` micro-batches, then take one step of ``opt``.

    Each call to ``update`` adds its gradients to an accumulator. On the ``k``-th call the
    accumulated gradient (the mean, or the sum with ``use_grad_mean=False``) goes through
    ``opt`` once and its updates are returned; the other calls return zeros and leave
    ``opt``'s state untouched. With the mean, ``k`` micro-batches of size ``b`` give the
    same step as one batch of size ``k b``:

    .. math::
        \\bar g_j = \\bar g_{j-1} + (g_j - \\bar g_{j-1}) / j, \\quad j = 1 \\dots k,
        \\qquad u = \\mathrm{opt}(\\bar g_k)

    (Welford's running mean, which does not overflow). ``opt``'s schedules and counters
    therefore count real steps, not micro-steps, and ``k = every_k_schedule(gradient_step)``
    may change during training (a growing batch size).

    Use ``.gradient_transformation()`` (or the object itself: it has ``init`` and
    ``update``) wherever a transform is expected, and ``has_updated(state)`` to tell the
    steps that changed the parameters.

    Args:
      opt: the wrapped transform or optimizer.
      every_k_schedule: a positive int ``k``, or a schedule ``gradient_step -> k`` (an
        integer >= 1 at every step).
      use_grad_mean: average the micro-batch gradients (default True); sum them if False.
      should_skip_update_fn: optional ``f(updates, gradient_step, params) ->
        (bool scalar, skip_state)``; when it returns true the micro-batch is ignored
        entirely (zero updates, state unchanged but for ``skip_state``). See
        `skip_not_finite` and `skip_large_updates`.
      accumulator_dtype: dtype ``acc_grads`` is stored in. Default float32, as in
        Optax: each micro-step adds in the common dtype of the gradient and the
        accumulator (float64 gradients add in float64) and stores the result in this
        dtype; the inner optimizer receives it in the gradient's dtype. A complex leaf is
        stored in the complex dtype of this precision (complex64 for float32; Optax
        would drop its imaginary part). ``None``: each gradient leaf's dtype promoted to
        at least float32 (float64 gradients keep float64).

    Returns:
      A ``MultiSteps`` object; its ``init`` returns a `MultiStepsState`.

    Raises:
      ValueError: if ``every_k_schedule`` is an integer < 1.
      TypeError: if ``opt`` is not a transform, ``every_k_schedule`` is neither an
        integer nor a callable, or ``should_skip_update_fn`` is not callable.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> opt = gradtx.MultiSteps(gradtx.scale(-1.0), every_k_schedule=2)
      >>> state = opt.init(jnp.zeros(1))
      >>> u1, state = opt.update(jnp.array([1.0]), state)
      >>> u2, state = opt.update(jnp.array([3.0]), state)
      >>> u1.tolist(), u2.tolist(), bool(opt.has_updated(state))
      ([0.0], [-2.0], True)
    """

    def __init__(
        self,
        opt: GradientTransformation,
        every_k_schedule: int | Callable[[jax.Array], Any],
        use_grad_mean: bool = True,
        should_skip_update_fn: ShouldSkipUpdateFn | None = None,
        accumulator_dtype: Any = jnp.float32,
    ):
        fn = "MultiSteps"
        self._opt = validate.transform(fn, "opt", opt)
        if isinstance(every_k_schedule, (numbers.Integral, np.integer)) and not isinstance(
            every_k_schedule, bool
        ):
            validate.integer(fn, "every_k_schedule", every_k_schedule, 1)
            k = int(every_k_schedule)
            self._every_k_schedule = lambda step: k
        elif callable(every_k_schedule):
            self._every_k_schedule = every_k_schedule
        else:
            raise TypeError(
                f"{fn}(every_k_schedule={every_k_schedule!r}): every_k_schedule must be an "
                f"integer >= 1 or a callable gradient_step -> k"
            )
        if should_skip_update_fn is not None and not callable(should_skip_update_fn):
            raise TypeError(
                f"{fn}(should_skip_update_fn={should_skip_update_fn!r}): must be callable or None"
            )
        self._use_grad_mean = bool(use_grad_mean)
        self._should_skip_update_fn = should_skip_update_fn or _never_skip
        self._accumulator_dtype = numerics.canonicalize_dtype(accumulator_dtype)

    @property
    def inner_opt(self) -> GradientTransformation:
        """The wrapped transform."""
        return self._opt

    def _acc_dtype(self, leaf: Any) -> Any:
        dtype = jnp.result_type(leaf)
        if self._accumulator_dtype is None:
            return numerics.compute_dtype(dtype)
        if jnp.issubdtype(dtype, jnp.complexfloating):
            # The complex dtype of the accumulator's precision (float32 -> complex64).
            return numerics.common_dtype(self._accumulator_dtype, jnp.complex64)
        return self._accumulator_dtype

    def init(self, params: Params) -> MultiStepsState:
        """The initial state: zero accumulator, both counters at 0.

        Args:
          params: the parameters (or a tree shaped like the gradients).

        Returns:
          A `MultiStepsState`.
        """
        gradient_step = numerics.zero_count()
        acc_grads = jax.tree.map(lambda p: jnp.zeros_like(p, dtype=self._acc_dtype(p)), params)
        zeros = jax.tree.map(jnp.zeros_like, params)
        _, skip_state = self._should_skip_update_fn(zeros, gradient_step, params)
        return MultiStepsState(
            mini_step=numerics.zero_count(),
            gradient_step=gradient_step,
            inner_opt_state=self._opt.init(params),
            acc_grads=acc_grads,
            skip_state=skip_state,
        )

    def update(
        self,
        updates: Updates,
        state: MultiStepsState,
        params: Params | None = None,
        **extra_args: Any,
    ) -> tuple[Updates, MultiStepsState]:
        """Accumulate one micro-batch; every ``k``-th call, step the inner optimizer.

        Args:
          updates: this micro-batch's gradients.
          state: the `MultiStepsState`.
          params: the current parameters (forwarded to the inner optimizer).
          **extra_args: forwarded to the inner optimizer on real steps.

        Returns:
          ``(updates, new_state)``; the updates are zero except on real steps.

        Raises:
          ValueError: if ``should_skip_update_fn`` does not return a boolean scalar.
        """
        k = self._every_k_schedule(state.gradient_step)
        should_skip, skip_state = self._should_skip_update_fn(updates, state.gradient_step, params)
        should_skip = jnp.asarray(should_skip)
        if should_skip.dtype != jnp.bool_ or should_skip.shape != ():
            raise ValueError(
                "MultiSteps: should_skip_update_fn must return a boolean scalar first, got "
                f"dtype {should_skip.dtype} and shape {should_skip.shape}"
            )
        validate.tree_match("MultiSteps", updates, state.acc_grads, what="accumulator")

        def inner_update(grads, inner_state):
            return self._opt.update(grads, inner_state, params, **extra_args)

        def to_grad_dtypes(acc):
            return jax.tree.map(lambda a, g: a.astype(jnp.result_type(g)), acc, updates)

        out_shape = jax.eval_shape(
            inner_update, to_grad_dtypes(state.acc_grads), state.inner_opt_state
        )[0]

        def accumulate(acc, g):
            # In the common dtype of gradient and accumulator, as Optax's promotion does.
            if g is None:
                return None
            dtype = numerics.common_dtype(acc.dtype, jnp.result_type(g))
            acc, g = acc.astype(dtype), jnp.asarray(g).astype(dtype)
            if self._use_grad_mean:
                n = (state.mini_step + 1).astype(dtype)
                return acc + (g - acc) / n
            return acc + g

        summed = jax.tree.map(accumulate, state.acc_grads, updates, is_leaf=is_none)
        acc_grads = jax.tree.map(
            lambda s, a: s if s is None else s.astype(a.dtype),
            summed,
            state.acc_grads,
            is_leaf=is_none,
        )
        emit = state.mini_step >= k - 1

        def real_step(_):
            new_updates, inner_state = inner_update(to_grad_dtypes(summed), state.inner_opt_state)
            new_updates = jax.tree.map(
                lambda u, s: jnp.asarray(u).astype(s.dtype), new_updates, out_shape
            )
            new_state = MultiStepsState(
                mini_step=jnp.zeros_like(state.mini_step),
                gradient_step=numerics.safe_increment(state.gradient_step),
                inner_opt_state=tree_lib.cast_like(inner_state, state.inner_opt_state),
                acc_grads=jax.tree.map(jnp.zeros_like, acc_grads),
                skip_state=skip_state,
            )
            return new_updates, new_state

        def micro_step(_):
            new_state = MultiStepsState(
                mini_step=numerics.safe_increment(state.mini_step),
                gradient_step=state.gradient_step,
                inner_opt_state=state.inner_opt_state,
                acc_grads=acc_grads,
                skip_state=skip_state,
            )
            return zeros_of(out_shape), new_state

        def skipped(_):
            return zeros_of(out_shape), state._replace(skip_state=skip_state)

        def not_skipped(_):
            return lax.cond(emit, real_step, micro_step, None)

        return lax.cond(should_skip, skipped, not_skipped, None)

    def has_updated(self, state: MultiStepsState | ArrayTree) -> jax.Array:
        """Whether the last ``update`` was a real step (the parameters changed).

        Args:
          state: a `MultiStepsState`.

        Returns:
          A boolean scalar.
        """
        return jnp.logical_and(state.mini_step == 0, state.gradient_step > 0)

    def gradient_transformation(self) -> GradientTransformation:
        """This accumulator as a plain `GradientTransformation`.

        Returns:
          ``GradientTransformation(self.init, self.update)``.
        """
        return GradientTransformation(self.init, self.update)


class ApplyEvery(NamedTuple):
    """State of `apply_every` (Optax's name and fields).

    Attributes:
      count: calls since the last emission (int32, in ``[0, k)``).
      grad_acc: the sum of the gradients since the last emission.
    """

    count: jax.Array
    grad_acc: Updates


def apply_every(k: int = 1) -> GradientTransformation:
    """Sum the updates of ``k`` consecutive calls and emit the sum every ``k``-th call.

    .. math::
        a_t = g_t + [t \\bmod k \\ne 0]\\, a_{t-1}, \\qquad
        u_t = [t \\bmod k = k - 1]\\, a_t

    Unlike `MultiSteps`, the transforms chained after it still run (on zeros) at every
    call, so their state advances on micro-steps; prefer `MultiSteps` for exact
    big-batch equivalence.

    Args:
      k: the number of calls per emission, an integer >= 1. Default 1 (identity).

    Returns:
      A `GradientTransformation` with `ApplyEvery` state.

    Raises:
      ValueError: if ``k < 1``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.apply_every(2)
      >>> state = tx.init(jnp.zeros(1))
      >>> u1, state = tx.update(jnp.array([1.0]), state)
      >>> u2, state = tx.update(jnp.array([2.0]), state)
      >>> u1.tolist(), u2.tolist()
      ([0.0], [3.0])
    """
    validate.integer("apply_every", "k", k, 1)

    def init_fn(params):
        return ApplyEvery(
            count=numerics.zero_count(), grad_acc=jax.tree.map(jnp.zeros_like, params)
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match("apply_every", updates, state.grad_acc, what="accumulator")
        keep = state.count % k != 0
        emit = state.count % k == k - 1

        def add(g, acc):
            if g is None:
                return None
            return numerics.promote_add(g, jnp.where(keep, acc, jnp.zeros_like(acc)))

        summed = jax.tree.map(add, updates, state.grad_acc, is_leaf=is_none)
        new_updates = jax.tree.map(
            lambda s, g: jnp.where(emit, s, jnp.zeros_like(s)).astype(g.dtype), summed, updates
        )
        grad_acc = tree_lib.cast_like(summed, state.grad_acc)
        count = numerics.safe_increment(state.count) % k
        return new_updates, ApplyEvery(count=count, grad_acc=grad_acc)

    return GradientTransformation(init_fn, update_fn)
