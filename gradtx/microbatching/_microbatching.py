r"""Microbatching: evaluate a function on a large batch one slice at a time.

A batch of :math:`B` rows is split into :math:`n = B / b` microbatches of :math:`b` rows;
``fun`` runs on each inside a ``lax.fori_loop`` (so only one microbatch is live at a
time) and an `Accumulator` combines the results. Microbatch :math:`i` holds the rows
:math:`i, i + n, i + 2n, \dots` (a strided split: with the batch axis sharded, each
microbatch keeps the sharding of the full batch). ``micro_vmap`` and ``micro_grad`` are
``jax.vmap`` and per-example ``jax.value_and_grad`` built on it.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx.core import validate

__all__ = [
    "AccumulationType",
    "Accumulator",
    "micro_grad",
    "micro_vmap",
    "microbatch",
    "reshape_batch_axis",
]


@dataclasses.dataclass(frozen=True)
class Accumulator:
    """How the results of the microbatches are combined.

    For microbatch results :math:`x_0, \\dots, x_{n-1}` the accumulated value is::

        carry = init(jax.eval_shape-of x_0)
        for i in range(n):
            carry = update(carry, x_i, i)
        result = finalize(carry)

    and ``aggregate`` reduces the batch axis of one vmapped result the same way (used by
    `micro_vmap` inside each microbatch).

    Attributes:
      init: ``init(shape_dtype) -> carry`` from a ``jax.ShapeDtypeStruct`` tree.
      update: ``update(carry, value, index) -> carry``.
      finalize: ``finalize(carry) -> result``.
      aggregate: ``aggregate(batched_value) -> value`` over axis 0.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import microbatching
      >>> maximum = microbatching.Accumulator(
      ...     init=lambda s: jnp.full(s.shape, -jnp.inf, s.dtype),
      ...     update=lambda carry, value, i: jnp.maximum(carry, value),
      ...     finalize=lambda carry: carry,
      ...     aggregate=lambda x: jnp.max(x, axis=0),
      ... )
      >>> fn = microbatching.microbatch(jnp.max, 0, 2, maximum)
      >>> float(fn(jnp.array([3.0, 9.0, 1.0, 4.0])))
      9.0
    """

    init: Callable[[Any], Any]
    update: Callable[[Any, Any, Any], Any]
    finalize: Callable[[Any], Any]
    aggregate: Callable[[Any], Any]


class AccumulationType(enum.Enum):
    """The built-in ways of combining microbatch results.

    ``MEAN`` averages over all microbatches, ``SUM`` adds them, ``RUNNING_MEAN``
    averages over the microbatches actually run (``num_real_microbatches``), ``CONCAT``
    stacks them back into one batch axis (in the original row order). Members compare
    equal to Optax's members of the same name, and are accepted wherever those are.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import microbatching
      >>> fn = microbatching.microbatch(jnp.sum, 0, 2, microbatching.AccumulationType.MEAN)
      >>> float(fn(jnp.arange(8.0)))  # the mean of the 4 microbatch sums
      7.0
    """

    MEAN = 1
    SUM = 2
    RUNNING_MEAN = 3
    CONCAT = 4


class Aux(NamedTuple):
    """The per-example outputs of `micro_grad`: loss values, metrics, ``fun``'s aux."""

    values: Any
    metrics: Any
    aux: Any


def _split_leaf(x: jax.Array, microbatch_size: int, axis: int) -> jax.Array:
    """``[.., B, ..] -> [.., B / b, b, ..]`` with microbatch ``i`` = rows ``i + n j``."""
    x = jnp.asarray(x)
    axis = axis % x.ndim
    shape = x.shape[:axis] + (microbatch_size, -1) + x.shape[axis + 1 :]
    return jnp.swapaxes(x.reshape(shape), axis, axis + 1)


def reshape_batch_axis(tree: Any, microbatch_size: int, axis: int = 0) -> Any:
    """Split the batch axis of every leaf into ``(num_microbatches, microbatch_size)``.

    Row :math:`r = i + n j` of a batch of :math:`B = n b` rows goes to position
    :math:`(i, j)`: microbatch :math:`i` is rows :math:`i, i + n, \\dots` (a
    column-major reshape, as in Optax), so a sharding of the batch axis carries over to
    the new ``microbatch_size`` axis.

    Args:
      tree: a pytree of arrays, each with a batch axis of the same size ``B``.
      microbatch_size: the microbatch size :math:`b`, dividing ``B``.
      axis: the batch axis. Default 0.

    Returns:
      The tree with every leaf of shape ``shape[:axis] + (B // b, b) + shape[axis+1:]``.

    Raises:
      ValueError: if ``microbatch_size`` does not divide the batch size.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import microbatching
      >>> microbatching.reshape_batch_axis(jnp.arange(6), 2).tolist()
      [[0, 3], [1, 4], [2, 5]]
    """
    validate.integer("reshape_batch_axis", "microbatch_size", microbatch_size, 1)

    def split(x):
        size = jnp.shape(x)[axis]
        if size % microbatch_size:
            raise ValueError(f"batch_size={size} must be divisible by {microbatch_size=}.")
        return _split_leaf(x, microbatch_size, axis)

    return jax.tree.map(split, tree)


def _per_leaf(init, update, finalize, aggregate) -> Accumulator:
    """An `Accumulator` applying array functions to every leaf of a subtree."""
    return Accumulator(
        init=lambda shapes: jax.tree.map(init, shapes),
        update=lambda carry, value, i: jax.tree.map(lambda c, v: update(c, v, i), carry, value),
        finalize=lambda carry: jax.tree.map(finalize, carry),
        aggregate=lambda values: jax.tree.map(aggregate, values),
    )


def _zeros(shape_dtype: Any) -> jax.Array:
    return jnp.zeros(shape_dtype.shape, shape_dtype.dtype)


def _floating_zeros(shape_dtype: Any) -> jax.Array:
    if not jnp.issubdtype(shape_dtype.dtype, jnp.floating):
        raise ValueError("MEAN and RUNNING_MEAN Accumulators require floating-point values.")
    return _zeros(shape_dtype)


def _running_update(carry: jax.Array, value: jax.Array, index: Any) -> jax.Array:
    # mean_{k <= i} = mean_{k < i} * i / (i + 1) + x_i / (i + 1)
    keep = (jnp.asarray(index) / (jnp.asarray(index) + 1)).astype(carry.dtype)
    return carry * keep + value * (1 - keep)


def _concat(num_microbatches: int) -> Accumulator:
    def init(s):
        return jnp.zeros((num_microbatches,) + tuple(s.shape), s.dtype)

    def finalize(carry):
        # [n, b, ...] -> [b * n, ...] with row i + n j from (i, j): the inverse split.
        return jnp.swapaxes(carry, 0, 1).reshape((-1,) + carry.shape[2:])

    return _per_leaf(init, lambda c, v, i: c.at[i].set(v), finalize, lambda x: x)


def _builtin(kind: Any, num_microbatches: int) -> Accumulator:
    """The `Accumulator` of an `AccumulationType` member (gradtx's or Optax's)."""
    name = getattr(kind, "name", None)
    if name in ("MEAN", "CONCAT") and num_microbatches <= 0:
        raise ValueError(f"{num_microbatches=} must be positive.")
    if name == "SUM":
        return _per_leaf(_zeros, lambda c, v, i: c + v, lambda c: c, lambda x: jnp.sum(x, 0))
    if name == "MEAN":
        finalize = lambda c: c / num_microbatches  # noqa: E731
        return _per_leaf(_floating_zeros, lambda c, v, i: c + v, finalize, lambda x: x.mean(0))
    if name == "RUNNING_MEAN":
        return _per_leaf(_floating_zeros, _running_update, lambda c: c, lambda x: x.mean(0))
    if name == "CONCAT":
        return _concat(num_microbatches)
    raise ValueError(f"Unknown accumulator: {kind}")


def _is_accumulation_type(x: Any) -> bool:
    return isinstance(x, enum.Enum) and type(x).__name__ == "AccumulationType"


def _canonicalize(accumulator: Any, num_microbatches: int) -> Accumulator:
    """One `Accumulator` from a tree (a prefix of the outputs) of accumulators/types."""

    def leaf(acc):
        if isinstance(acc, Accumulator) or callable(getattr(acc, "aggregate", None)):
            return acc
        return _builtin(acc, num_microbatches)

    is_leaf = lambda x: isinstance(x, Accumulator) or _is_accumulation_type(x)  # noqa: E731
    accs = jax.tree.map(leaf, accumulator, is_leaf=is_leaf)
    is_acc = lambda x: isinstance(x, Accumulator)  # noqa: E731

    def over(method):
        def apply(*trees):
            return jax.tree.map(lambda a, *t: getattr(a, method)(*t), accs, *trees, is_leaf=is_acc)

        return apply

    return Accumulator(
        init=over("init"),
        update=lambda carry, value, i: jax.tree.map(
            lambda a, c, v: a.update(c, v, i), accs, carry, value, is_leaf=is_acc
        ),
        finalize=over("finalize"),
        aggregate=over("aggregate"),
    )


def _as_tuple(x: Any) -> tuple[Any, ...]:
    return (x,) if isinstance(x, (int, str)) else tuple(x)


def microbatch(
    fun: Callable[..., Any],
    argnums: int | Sequence[int],
    microbatch_size: int | None,
    accumulator: Any = AccumulationType.SUM,
    *,
    argnames: str | Sequence[str] = (),
    in_axes: int | Sequence[int] = 0,
    num_real_microbatches: int | jax.Array | None = None,
) -> Callable[..., Any]:
    r"""Evaluate ``fun`` sequentially on microbatches and combine the results.

    .. math::
        \operatorname{microbatched}(X) = \operatorname{finalize}\Bigl(
        \operatorname{update}(\cdots \operatorname{update}(\operatorname{init},
        f(X_0), 0) \cdots, f(X_{n-1}), n - 1)\Bigr)

    where :math:`X_i` is microbatch :math:`i` of the batch arguments (rows
    :math:`i, i + n, \dots`, see `reshape_batch_axis`) and the other arguments are
    passed unchanged. The loop is a ``lax.fori_loop``, so only one microbatch is
    evaluated at a time: peak memory is that of ``fun`` on ``microbatch_size`` rows.
    With ``SUM`` the result equals ``fun`` on the whole batch for any ``fun`` that is a
    sum over rows; ``CONCAT`` gives back a batch axis in the original order.

    Args:
      fun: any function.
      argnums: the index (or indices) of the positional arguments with a batch axis.
      microbatch_size: the rows per microbatch, dividing the batch size; ``None``
        returns ``fun`` itself.
      accumulator: an `AccumulationType`, an `Accumulator`, or a pytree of them that is
        a prefix of ``fun``'s output. Default ``AccumulationType.SUM``.
      argnames: the name (or names) of the keyword arguments with a batch axis.
      in_axes: the batch axis of each batch argument (``argnums`` then ``argnames``), or
        one axis for all. Default 0.
      num_real_microbatches: run only this many microbatches (a Python or traced
        integer, so variable batch sizes need no recompilation); default all.

    Returns:
      A function with ``fun``'s arguments.

    Raises:
      ValueError: when called with batch arguments of different batch sizes, a batch
        size that ``microbatch_size`` does not divide, an unknown accumulator, or
        ``MEAN``/``RUNNING_MEAN`` on non-floating outputs.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import microbatching
      >>> fun = lambda x: (x + 1, jnp.sum(3 * x))
      >>> kinds = (microbatching.AccumulationType.CONCAT, microbatching.AccumulationType.SUM)
      >>> out = microbatching.microbatch(fun, argnums=0, microbatch_size=2, accumulator=kinds)
      >>> [o.tolist() for o in out(jnp.array([1, 2, 3, 4]))]
      [[2, 3, 4, 5], 30]

    References:
      Huang et al., "GPipe: Efficient Training of Giant Neural Networks using Pipeline
      Parallelism", NeurIPS 2019, https://arxiv.org/abs/1811.06965
    """
    if microbatch_size is None:
        return fun
    validate.integer("microbatch", "microbatch_size", microbatch_size, 1)
    argnums, argnames = _as_tuple(argnums), _as_tuple(argnames)
    axes = _as_tuple(in_axes)
    if len(axes) == 1 and isinstance(in_axes, int):
        axes = axes * (len(argnums) + len(argnames))

    def microbatched(*args: Any, **kwargs: Any) -> Any:
        batch = [args[i] for i in argnums] + [kwargs[k] for k in argnames]
        sizes = [
            jnp.shape(x)[ax]
            for ax, tree in zip(axes, batch, strict=True)
            for x in jax.tree.leaves(tree)
        ]
        if len(set(sizes)) > 1:
            raise ValueError(f"Batch Arguments must have equal-size batch axes, found {sizes}.")
        if not sizes:
            raise ValueError("microbatch: the batch arguments hold no array")
        if sizes[0] % microbatch_size:
            raise ValueError(f"batch_size={sizes[0]} must be divisible by {microbatch_size=}.")
        num_microbatches = sizes[0] // microbatch_size
        split_args, split_kwargs = list(args), dict(kwargs)
        for i, ax in zip(argnums, axes, strict=False):
            split_args[i] = reshape_batch_axis(args[i], microbatch_size, ax)
        for k, ax in zip(argnames, axes[len(argnums) :], strict=True):
            split_kwargs[k] = reshape_batch_axis(kwargs[k], microbatch_size, ax)
        acc = _canonicalize(accumulator, num_microbatches)

        def take(tree: Any, ax: int, index: Any) -> Any:
            return jax.tree.map(functools.partial(jnp.take, indices=index, axis=ax), tree)

        def at(index: Any) -> Any:
            call_args, call_kwargs = list(split_args), dict(split_kwargs)
            for i, ax in zip(argnums, axes, strict=False):
                call_args[i] = take(split_args[i], ax, index)
            for k, ax in zip(argnames, axes[len(argnums) :], strict=True):
                call_kwargs[k] = take(split_kwargs[k], ax, index)
            return fun(*call_args, **call_kwargs)

        steps = num_microbatches if num_real_microbatches is None else num_real_microbatches
        carry = acc.init(jax.eval_shape(at, 0))
        carry = jax.lax.fori_loop(0, steps, lambda i, c: acc.update(c, at(i), i), carry)
        return acc.finalize(carry)

    return microbatched


def micro_vmap(
    fun: Callable[..., Any],
    in_axes: int | Sequence[int] = 0,
    out_axes: Any = 0,
    *,
    microbatch_size: int | None = None,
    vmap_fn: Callable[..., Any] = jax.vmap,
    accumulator: Any = AccumulationType.CONCAT,
    num_real_microbatches: int | jax.Array | None = None,
) -> Callable[..., Any]:
    r"""``jax.vmap`` evaluated ``microbatch_size`` rows at a time.

    .. math::
        \operatorname{micro\_vmap}(f)(X) = \operatorname{acc}_{i}\
        \operatorname{aggregate}\bigl(\operatorname{vmap}(f)(X_i)\bigr)

    With the default ``CONCAT`` the result is ``jax.vmap(fun, in_axes)``'s; ``SUM`` or
    ``MEAN`` reduce over the batch instead, without ever holding all the mapped outputs.
    Keyword arguments are mapped over their axis 0, as by ``jax.vmap``.

    Args:
      fun: the function to map.
      in_axes: the mapped axis of each positional argument (``None`` for an unmapped
        one), or one int when ``fun`` takes a single positional argument. Default 0.
      out_axes: must be 0.
      microbatch_size: rows per microbatch (dividing the batch size); ``None`` maps the
        whole batch at once.
      vmap_fn: a function with ``jax.vmap``'s signature. Default ``jax.vmap``.
      accumulator: as in `microbatch`. Default ``AccumulationType.CONCAT``.
      num_real_microbatches: as in `microbatch`.

    Returns:
      The mapped function, with ``fun``'s arguments.

    Raises:
      NotImplementedError: for ``out_axes != 0``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import microbatching
      >>> microbatching.micro_vmap(lambda x: x**2, microbatch_size=2)(jnp.arange(6)).tolist()
      [0, 1, 4, 9, 16, 25]

    References:
      Bradbury et al., "JAX: composable transformations of Python+NumPy programs",
      2018, http://github.com/jax-ml/jax
    """
    if out_axes != 0:
        raise NotImplementedError("out_axis != 0 is not currently supported")
    axes = _as_tuple(in_axes)

    def mapped_and_reduced(*args: Any, kwargs: dict[str, Any]) -> Any:
        output = vmap_fn(fun, axes, out_axes)(*args, **kwargs)
        rows = jax.tree.leaves(output)[0].shape[0]
        return _canonicalize(accumulator, rows).aggregate(output)

    batched = [i for i, ax in enumerate(axes) if ax is not None]
    chunked = microbatch(
        mapped_and_reduced,
        argnums=tuple(batched),
        argnames="kwargs",
        microbatch_size=microbatch_size,
        accumulator=accumulator,
        in_axes=tuple(axes[i] for i in batched) + (0,),
        num_real_microbatches=num_real_microbatches,
    )

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return chunked(*args, kwargs=kwargs)

    return wrapped


def micro_grad(
    fun: Callable[..., Any],
    has_aux: bool = False,
    argnums: int | Sequence[int] = 0,
    *,
    batch_argnums: int | Sequence[int] = 1,
    keep_batch_dim: bool = True,
    microbatch_size: int | None = None,
    accumulator: Any = AccumulationType.SUM,
    transform_fn: Callable[[Any], Any] = lambda x: x,
    metrics_fn: Callable[[Any], Any] = lambda x: None,
    num_real_microbatches: int | jax.Array | None = None,
) -> Callable[..., tuple[Any, Aux]]:
    r"""Per-example gradients, transformed and accumulated over the batch.

    .. math::
        G = \operatorname{acc}_{k=1}^{B}\ T\bigl(\nabla_\theta f(\theta; x_k)\bigr),
        \qquad m_k = M\bigl(\nabla_\theta f(\theta; x_k)\bigr)

    for each example :math:`x_k` of the batch arguments, with :math:`T` =
    ``transform_fn`` (e.g. per-example clipping for DP-SGD, or ``lambda g: (g, g**2)``
    for gradient moments), :math:`M` = ``metrics_fn`` and the accumulation ``SUM`` by
    default (``MEAN`` for a mean-reduced loss). The examples are processed
    ``microbatch_size`` at a time by `micro_vmap`.

    Args:
      fun: ``fun(params, batch, ...)`` returning a scalar loss (or ``(loss, aux)`` with
        ``has_aux``).
      has_aux: whether ``fun`` returns ``(loss, aux)``. Default False.
      argnums: the argument(s) to differentiate. Default 0.
      batch_argnums: the argument(s) with a batch axis 0. Default 1.
      keep_batch_dim: call ``fun`` on batches of one example (``[1, ...]``) rather than
        on single examples (``[...]``). Default True.
      microbatch_size: examples per microbatch; ``None`` vmaps the whole batch.
      accumulator: how the transformed gradients are combined. Default
        ``AccumulationType.SUM``.
      transform_fn: applied to each per-example gradient. Default the identity.
      metrics_fn: applied to each per-example gradient, returned per example. Default
        none (``None``).
      num_real_microbatches: as in `microbatch`.

    Returns:
      ``grad_fn(*args) -> (accumulated, aux)`` with ``aux`` an ``Aux(values, metrics,
      aux)`` of per-example loss values, metrics and ``fun``'s aux.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import microbatching
      >>> def loss(params, features, targets):
      ...     return 0.5 * jnp.mean((features @ params - targets) ** 2)
      >>> grad_fn = microbatching.micro_grad(
      ...     loss, batch_argnums=(1, 2), accumulator=microbatching.AccumulationType.MEAN,
      ...     transform_fn=lambda g: (g, g**2), metrics_fn=jnp.linalg.norm)
      >>> (g, g2), aux = grad_fn(jnp.zeros(1), jnp.ones((4, 1)), jnp.array([0.0, 2, 4, 6]))
      >>> g.tolist(), g2.tolist(), aux.metrics.tolist()
      ([-3.0], [14.0], [0.0, 2.0, 4.0, 6.0])

    References:
      Abadi et al., "Deep Learning with Differential Privacy", CCS 2016,
      https://arxiv.org/abs/1607.00133
    """
    batch_argnums = _as_tuple(batch_argnums)
    with_aux = fun if has_aux else (lambda *a, **k: (fun(*a, **k), None))
    value_and_grad = jax.value_and_grad(with_aux, argnums, has_aux=True)

    def per_example(*args: Any, **kwargs: Any) -> tuple[Any, Aux]:
        (value, aux), grad = value_and_grad(*args, **kwargs)
        return transform_fn(grad), Aux(values=value, metrics=metrics_fn(grad), aux=aux)

    in_axes = [None] * (max(batch_argnums) + 1)
    for i in batch_argnums:
        in_axes[i] = 0
    mapped = micro_vmap(
        per_example,
        in_axes=in_axes,
        accumulator=(accumulator, AccumulationType.CONCAT),
        microbatch_size=microbatch_size,
        num_real_microbatches=num_real_microbatches,
    )
    if not keep_batch_dim:
        return mapped

    def with_example_axis(*args: Any, **kwargs: Any) -> tuple[Any, Aux]:
        args = list(args)
        for i in batch_argnums:
            args[i] = jax.tree.map(lambda x: jnp.expand_dims(x, 1), args[i])
        return mapped(*args, **kwargs)

    return with_example_axis
