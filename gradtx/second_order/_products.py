"""Curvature-vector products: Hessian, Gauss-Newton, and the dense Hessian for small problems."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
from jax.flatten_util import ravel_pytree

from gradtx import tree as tree_lib

__all__ = ["gnvp", "gnvp_operator", "hessian", "hvp", "hvp_operator"]


def hvp(f: Callable[..., jax.Array], params: Any, v: Any, *args: Any) -> Any:
    """Hessian-vector product :math:`\\nabla^2 f(\\theta)\\, v`, forward-over-reverse.

    The product is the directional derivative of the gradient along ``v``,

    .. math::
        H v = \\frac{d}{d\\epsilon} \\nabla f(\\theta + \\epsilon v) \\Big|_{\\epsilon=0},

    computed as a ``jax.jvp`` of ``jax.grad(f)``: one forward-mode pass through the
    reverse-mode gradient, about the cost of two or three gradients and no more memory
    than one. Nothing is raveled: ``v`` and the result have the structure of ``params``.

    Args:
      f: a scalar function ``f(params, *args)``.
      params: the point :math:`\\theta` (any pytree of floating arrays).
      v: the direction, a pytree with the structure of ``params``; each leaf is cast to
        the matching parameter's dtype.
      *args: further positional arguments of ``f`` (data, targets ...), held fixed.

    Returns:
      :math:`H v`, a pytree with the structure and dtypes of ``params``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import second_order
      >>> f = lambda p: p["x"] ** 2 * p["y"]
      >>> p = {"x": jnp.asarray(1.0), "y": jnp.asarray(2.0)}
      >>> out = second_order.hvp(f, p, {"x": jnp.asarray(1.0), "y": jnp.asarray(0.0)})
      >>> {k: float(val) for k, val in out.items()}  # first column of [[2y, 2x], [2x, 0]]
      {'x': 4.0, 'y': 2.0}

    References:
      Pearlmutter, "Fast Exact Multiplication by the Hessian", Neural Computation 1994,
      https://doi.org/10.1162/neco.1994.6.1.147
    """
    grad_fn = _grad_fn(f, args)
    return jax.jvp(grad_fn, (params,), (tree_lib.cast_like(v, params),))[1]


def hvp_operator(
    f: Callable[..., jax.Array], params: Any, *args: Any, linearize: bool = True
) -> Callable[[Any], Any]:
    """The Hessian of ``f`` at ``params`` as a matvec ``v -> H v`` on pytrees.

    This is the linear operator that `lanczos`, `cg_solve`, `hutchinson_trace` and the
    other iterative methods take. With ``linearize=True`` the gradient is linearized once
    (``jax.linearize``): the forward and backward passes run once, their residuals are
    kept, and every product afterwards only runs the tangent computation, which makes
    repeated products (Lanczos, CG) cheaper at the price of keeping those residuals in
    memory. With ``linearize=False`` each product is an independent `hvp`.

    Args:
      f: a scalar function ``f(params, *args)``.
      params: the point at which the Hessian is taken.
      *args: further positional arguments of ``f``.
      linearize: reuse one linearization for all products. Default True.

    Returns:
      ``matvec(v)``: :math:`H v` with the structure and dtypes of ``params``; ``v`` may be
      in any floating dtype (it is cast to the parameters' dtypes).

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import second_order
      >>> matvec = second_order.hvp_operator(lambda x: jnp.sum(x**3), jnp.array([1.0, 2.0]))
      >>> matvec(jnp.array([1.0, 1.0])).tolist()  # diag(6 x) @ v
      [6.0, 12.0]
    """
    grad_fn = _grad_fn(f, args)
    if linearize:
        _, linear = jax.linearize(grad_fn, params)

        def matvec(v):
            return linear(tree_lib.cast_like(v, params))

        return matvec

    def matvec_fresh(v):
        return jax.jvp(grad_fn, (params,), (tree_lib.cast_like(v, params),))[1]

    return matvec_fresh


def gnvp(
    model_fn: Callable[..., Any],
    loss_fn: Callable[..., jax.Array],
    params: Any,
    v: Any,
    inputs: Any,
    *loss_args: Any,
) -> Any:
    """Gauss-Newton-vector product for ``loss_fn(model_fn(params, inputs), *loss_args)``.

    With :math:`z = m(\\theta)` the model outputs, :math:`J = \\partial z / \\partial
    \\theta` and :math:`H_\\ell = \\nabla_z^2 \\ell(z)` the Hessian of the loss in the
    outputs, the Gauss-Newton matrix drops the second derivatives of the model:

    .. math::
        G v = J^\\top H_\\ell\\, J v .

    :math:`G` is positive semi-definite whenever the loss is convex in the outputs (squared
    error, cross-entropy), which makes it a safe curvature for CG. :math:`Jv` is a
    ``jvp`` of the model, :math:`H_\\ell (Jv)` a forward-over-reverse product of the loss in
    the (small) output space, and :math:`J^\\top(\\cdot)` the transpose of the same
    linearization (no second forward pass).

    Args:
      model_fn: ``model_fn(params, inputs) -> outputs`` (any pytree of outputs).
      loss_fn: ``loss_fn(outputs, *loss_args) -> scalar``.
      params: the point :math:`\\theta`.
      v: a pytree with the structure of ``params``.
      inputs: the model's second argument (a batch of data; any pytree).
      *loss_args: further arguments of the loss (targets, weights ...).

    Returns:
      :math:`G v`, with the structure and dtypes of ``params``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import second_order
      >>> model = lambda w, x: x @ w
      >>> loss = lambda z, y: 0.5 * jnp.sum((z - y) ** 2)
      >>> x, y = jnp.array([[1.0, 0.0], [1.0, 1.0]]), jnp.zeros(2)
      >>> second_order.gnvp(model, loss, jnp.ones(2), jnp.array([1.0, 0.0]), x, y).tolist()
      [2.0, 1.0]

    References:
      Schraudolph, "Fast Curvature Matrix-Vector Products for Second-Order Gradient
      Descent", Neural Computation 2002, https://doi.org/10.1162/08997660260028683
    """
    return gnvp_operator(model_fn, loss_fn, params, inputs, *loss_args)(v)


def gnvp_operator(
    model_fn: Callable[..., Any],
    loss_fn: Callable[..., jax.Array],
    params: Any,
    inputs: Any,
    *loss_args: Any,
) -> Callable[[Any], Any]:
    """The Gauss-Newton matrix :math:`J^\\top H_\\ell J` at ``params`` as a matvec.

    The model and the loss are linearized once; see `gnvp` for the definition.

    Args:
      model_fn: ``model_fn(params, inputs) -> outputs``.
      loss_fn: ``loss_fn(outputs, *loss_args) -> scalar``.
      params: the point.
      inputs: the model's data argument.
      *loss_args: further arguments of the loss.

    Returns:
      ``matvec(v)`` returning :math:`G v` with the structure and dtypes of ``params``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import second_order
      >>> op = second_order.gnvp_operator(
      ...     lambda w, x: jnp.tanh(x * w), lambda z: 0.5 * jnp.sum(z**2), jnp.zeros(2), 2.0
      ... )
      >>> op(jnp.array([1.0, 0.0])).tolist()  # J = 2 I at w = 0, H_loss = I
      [4.0, 0.0]
    """
    outputs, model_jvp = jax.linearize(lambda p: model_fn(p, inputs), params)
    model_vjp = jax.linear_transpose(model_jvp, params)
    loss_grad = jax.grad(lambda z: loss_fn(z, *loss_args))
    _, loss_hvp = jax.linearize(loss_grad, outputs)

    def matvec(v):
        jv = model_jvp(tree_lib.cast_like(v, params))
        (out,) = model_vjp(tree_lib.cast_like(loss_hvp(jv), outputs))
        return tree_lib.cast_like(out, params)

    return matvec


def hessian(f: Callable[..., jax.Array], params: Any, *args: Any) -> jax.Array:
    """The dense Hessian of ``f`` over the raveled parameters (small problems only).

    The parameters are flattened with ``jax.flatten_util.ravel_pytree``: the leaves in
    ``jax.tree.leaves(params)`` order, each leaf in row-major (C) order, concatenated.
    Entry ``[i, j]`` is :math:`\\partial^2 f / \\partial\\theta_i \\partial\\theta_j` in that
    ordering; ``ravel_pytree(params)[1]`` maps a row back to a pytree. The cost is
    :math:`n` Hessian-vector products and :math:`n^2` memory, so this is for tests,
    plots and problems with at most a few thousand parameters; everything else in
    ``gradtx.second_order`` works matrix-free.

    Args:
      f: a scalar function ``f(params, *args)``.
      params: the point (leaves of one floating dtype, or of dtypes that promote).
      *args: further positional arguments of ``f``.

    Returns:
      An ``(n, n)`` array in the raveled parameters' dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import second_order
      >>> f = lambda p: p["a"] ** 2 * p["b"]
      >>> second_order.hessian(f, {"a": jnp.asarray(1.0), "b": jnp.asarray(3.0)}).tolist()
      [[6.0, 2.0], [2.0, 0.0]]
    """
    flat, unravel = ravel_pytree(params)
    return jax.hessian(lambda x: f(unravel(x), *args))(flat)


def _grad_fn(f: Callable[..., jax.Array], args: tuple[Any, ...]) -> Callable[[Any], Any]:
    grad = jax.grad(f)
    return lambda p: grad(p, *args)
