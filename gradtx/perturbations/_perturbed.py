r"""Differentiable Monte-Carlo smoothing of any function by random perturbations.

For a function :math:`f`, a noise distribution :math:`\mu` with density
:math:`\propto e^{-\nu(z)}` and a scale :math:`\sigma`, the perturbed function is
:math:`f_\sigma(x) = \mathbb E_{z \sim \mu} f(x + \sigma z)` (Berthet et al. 2020). It is
smooth even where :math:`f` is piecewise constant (an argmax, a ranking), and its
derivatives are expectations that need only values of :math:`f`:
:math:`\nabla f_\sigma(x) = \mathbb E[f(x + \sigma z)\, \nabla\nu(z)^\top] / \sigma`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import validate

__all__ = ["Gumbel", "Normal", "make_perturbed_fun"]


class _Noise:
    """A stateless noise distribution: instances of one family compare equal."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Normal(_Noise):
    r"""The standard normal distribution, as perturbation noise.

    .. math::
        z \sim \mathcal N(0, 1), \qquad \log p(z) = -\tfrac12 z^2 + \text{const}

    Examples:
      >>> import jax
      >>> from gradtx import perturbations
      >>> noise = perturbations.Normal()
      >>> noise.sample(jax.random.key(0), (2,)).shape, float(noise.log_prob(2.0))
      ((2,), -2.0)

    References:
      Berthet et al., "Learning with Differentiable Perturbed Optimizers", NeurIPS 2020,
      https://arxiv.org/abs/2002.08676
    """

    def sample(self, key: Any, sample_shape: tuple[int, ...] = (), dtype: Any = float) -> jax.Array:
        """Draw standard normal samples.

        Args:
          key: a PRNG key.
          sample_shape: the shape of the sample. Default ``()``.
          dtype: a floating dtype. Default the default float dtype.

        Returns:
          ``jax.random.normal(key, sample_shape, dtype)``.
        """
        return jax.random.normal(key, sample_shape, dtype)

    def log_prob(self, inputs: Any) -> jax.Array:
        r"""The log-density up to a constant, :math:`-z^2 / 2`.

        Args:
          inputs: the points :math:`z`.

        Returns:
          ``-0.5 * inputs**2`` elementwise.
        """
        inputs = jnp.asarray(inputs)
        return -0.5 * jnp.square(inputs)


class Gumbel(_Noise):
    r"""The standard Gumbel distribution, as perturbation noise.

    .. math::
        z \sim \operatorname{Gumbel}(0, 1), \qquad \log p(z) = -z - e^{-z}

    With Gumbel noise, :math:`\mathbb E[\operatorname{argmax}(x + z)]` is the softmax
    of :math:`x` (the Gumbel-max trick), the usual choice for perturbed argmaxes.

    Examples:
      >>> import jax
      >>> from gradtx import perturbations
      >>> noise = perturbations.Gumbel()
      >>> noise.sample(jax.random.key(0), (3,)).shape, float(noise.log_prob(0.0))
      ((3,), -1.0)

    References:
      Gumbel, "Statistical theory of extreme values and some practical applications",
      US National Bureau of Standards 1954; Berthet et al., "Learning with
      Differentiable Perturbed Optimizers", NeurIPS 2020, https://arxiv.org/abs/2002.08676
    """

    def sample(self, key: Any, sample_shape: tuple[int, ...] = (), dtype: Any = float) -> jax.Array:
        """Draw standard Gumbel samples.

        Args:
          key: a PRNG key.
          sample_shape: the shape of the sample. Default ``()``.
          dtype: a floating dtype. Default the default float dtype.

        Returns:
          ``jax.random.gumbel(key, sample_shape, dtype)``.
        """
        return jax.random.gumbel(key, sample_shape, dtype)

    def log_prob(self, inputs: Any) -> jax.Array:
        r"""The log-density, :math:`-z - e^{-z}`.

        Args:
          inputs: the points :math:`z`.

        Returns:
          ``-inputs - exp(-inputs)`` elementwise.
        """
        inputs = jnp.asarray(inputs)
        return -inputs - jnp.exp(-inputs)


def _magic_box(x: jax.Array) -> jax.Array:
    """DiCE's operator: the value 1, with the derivatives of ``exp(x)`` (Foerster 2018)."""
    return jnp.exp(x - jax.lax.stop_gradient(x))


def _times(scalar: jax.Array, tree: Any) -> Any:
    """``scalar * leaf`` per leaf, in the leaf's dtype."""
    return jax.tree.map(lambda x: scalar.astype(jnp.result_type(x)) * x, tree)


_GUMBEL = Gumbel()


def make_perturbed_fun(
    fun: Callable[[Any], Any],
    num_samples: int = 1000,
    sigma: Any = 0.1,
    noise: Any = _GUMBEL,
    use_baseline: Any = True,
) -> Callable[[Any, Any], Any]:
    r"""A stochastic, differentiable approximation of ``fun`` by random perturbations.

    .. math::
        f_\sigma(x) = \mathbb E_{z \sim \mu}\, f(x + \sigma z) \approx
        \frac1N \sum_{k=1}^{N} f(x + \sigma z_k)

    The returned function ``perturbed(key, x)`` draws :math:`N` = ``num_samples`` noise
    trees and averages ``fun`` over the perturbed inputs. Its derivatives of every
    order, through ``jax.grad``/``jax.jacobian``, are unbiased Monte-Carlo estimates of
    those of :math:`f_\sigma`, computed from values of ``fun`` only (which therefore
    need not be differentiable): the score-function estimator
    :math:`\nabla f_\sigma(x) = \mathbb E[f(x + \sigma z)\,\nabla_x \log p(z)]` with
    :math:`z = (y - x)/\sigma` for the sample :math:`y`, written with DiCE's magic box
    :math:`\exp(\ell - \bot(\ell))` so that higher orders come out too. With
    ``use_baseline`` the unperturbed value :math:`f(x)` is subtracted inside the
    estimator (a control variate: no bias, less variance). The same key gives Optax's
    very samples.

    Args:
      fun: a function from a pytree of arrays to a pytree of arrays.
      num_samples: the number of perturbations :math:`N \ge 1`. Default 1000.
      sigma: the noise scale :math:`\sigma > 0`. Default 0.1.
      noise: a distribution with ``sample(key, shape, dtype)`` and ``log_prob(z)``, such
        as `Gumbel` (default) or `Normal`.
      use_baseline: subtract ``fun(x)`` as a control variate. Default True.

    Returns:
      ``perturbed(key, x)``, with ``fun``'s output structure.

    Raises:
      ValueError: for ``num_samples < 1`` or a non-positive ``sigma``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> from gradtx import perturbations
      >>> f = lambda x: jnp.sum(jnp.maximum(x, 0.0))
      >>> fn = perturbations.make_perturbed_fun(f, 1_000, 0.1)
      >>> jax.grad(fn, argnums=1)(jax.random.key(0), jnp.zeros(3)).round(2).tolist()
      [0.69, 0.72, 0.58]

    References:
      Berthet et al., "Learning with Differentiable Perturbed Optimizers", NeurIPS 2020,
      https://arxiv.org/abs/2002.08676; Foerster et al., "DiCE: The Infinitely
      Differentiable Monte Carlo Estimator", ICML 2018, https://arxiv.org/abs/1802.05098
    """
    fn = "make_perturbed_fun"
    validate.integer(fn, "num_samples", num_samples, 1)
    validate.positive(fn, sigma=sigma)

    def perturbed(key: Any, inputs: Any) -> Any:
        baseline = fun(jax.lax.stop_gradient(inputs)) if use_baseline else None

        def estimate(sample_key: Any) -> Any:
            z = tree_lib.random_like(sample_key, inputs, sampler=noise.sample)
            shifted = jax.tree.map(
                lambda x, e: x + jnp.asarray(sigma).astype(x.dtype) * e, inputs, z
            )
            shifted = jax.lax.stop_gradient(shifted)
            # z again, now as a function of x (its derivative is the score's source).
            z = jax.tree.map(
                lambda x, y: (y - x) / jnp.asarray(sigma).astype(x.dtype), inputs, shifted
            )
            log_prob = sum(jnp.sum(noise.log_prob(leaf)) for leaf in jax.tree.leaves(z))
            box = _magic_box(jnp.asarray(log_prob))
            out = _times(box, fun(shifted))
            if use_baseline:
                out = jax.tree.map(lambda o, b: o + ((1 - box).astype(o.dtype)) * b, out, baseline)
            return out

        samples = jax.vmap(estimate)(jax.random.split(key, num_samples))
        return jax.tree.map(lambda s: jnp.mean(s, axis=0), samples)

    return perturbed
