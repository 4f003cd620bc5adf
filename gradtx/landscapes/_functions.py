"""Classic optimisation test functions with their known critical points.

Each factory returns a `Landscape`. Points that have no closed form were found by
Newton's method on the gradient in float64 NumPy/JAX, started from a grid over the plot
bounds, and kept when the gradient norm was below 1e-10; the tests check that the
gradient vanishes at every listed point and that the Hessian there has the right signs.
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from gradtx.core import validate
from gradtx.landscapes._landscape import Landscape, make

__all__ = [
    "beale",
    "himmelblau",
    "ill_conditioned_quadratic",
    "monkey_saddle",
    "rastrigin",
    "rosenbrock",
    "saddle",
]


def _xy(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    x = jnp.asarray(x)
    return x[0], x[1]


def _saddle_fn(x: jax.Array) -> jax.Array:
    a, b = _xy(x)
    return a**2 - b**2


def saddle() -> Landscape:
    """The hyperbolic paraboloid :math:`f(x, y) = x^2 - y^2`: one strict saddle, no minimum.

    .. math::
        f(x, y) = x^2 - y^2, \\qquad \\nabla^2 f = \\operatorname{diag}(2, -2)

    The origin is a non-degenerate saddle: attracting along :math:`x`, repelling along
    :math:`y`. The standard start ``(1, 1e-3)`` lies just off the attracting axis, so
    gradient descent first slows down near the saddle, then escapes at a rate set by the
    negative curvature. The function is unbounded below (``min_value = -inf``, no minima).

    Returns:
      A `Landscape` named ``"saddle"`` with ``saddles = [[0, 0]]``,
      ``x0 = (1, 1e-3)`` and bounds ``[-1.5, 1.5]^2``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from gradtx import landscapes
      >>> L = landscapes.saddle()
      >>> jax.hessian(L.fn)(jnp.zeros(2)).tolist()
      [[2.0, 0.0], [0.0, -2.0]]

    References:
      Dauphin et al., "Identifying and attacking the saddle point problem in
      high-dimensional non-convex optimization", NeurIPS 2014,
      https://arxiv.org/abs/1406.2572
    """
    return make(
        "saddle",
        _saddle_fn,
        minima=(),
        min_value=-math.inf,
        saddles=[(0.0, 0.0)],
        x0=(1.0, 1e-3),
        bounds=((-1.5, 1.5), (-1.5, 1.5)),
    )


def _monkey_fn(x: jax.Array) -> jax.Array:
    a, b = _xy(x)
    return a**3 - 3.0 * a * b**2


def monkey_saddle() -> Landscape:
    """The monkey saddle :math:`f(x, y) = x^3 - 3 x y^2`: a degenerate (higher-order) saddle.

    .. math::
        f(x, y) = x^3 - 3 x y^2 = \\operatorname{Re}\\,(x + i y)^3

    The gradient and the whole Hessian vanish at the origin, so second-order information
    cannot tell it apart from a minimum: the saddle shows only at third order, where
    :math:`f` takes both signs in every neighbourhood (three valleys, three ridges).
    Methods that escape saddles through negative curvature (saddle-free Newton,
    trust regions) see none here. Unbounded below (``min_value = -inf``, no minima).

    Returns:
      A `Landscape` named ``"monkey_saddle"`` with ``saddles = [[0, 0]]``,
      ``x0 = (1, 1e-3)`` and bounds ``[-1.5, 1.5]^2``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from gradtx import landscapes
      >>> L = landscapes.monkey_saddle()
      >>> jax.hessian(L.fn)(jnp.zeros(2)).tolist()  # degenerate: all zeros
      [[0.0, 0.0], [0.0, 0.0]]

    References:
      Anandkumar and Ge, "Efficient approaches for escaping higher order saddle points
      in non-convex optimization", COLT 2016, https://arxiv.org/abs/1602.05908
    """
    return make(
        "monkey_saddle",
        _monkey_fn,
        minima=(),
        min_value=-math.inf,
        saddles=[(0.0, 0.0)],
        x0=(1.0, 1e-3),
        bounds=((-1.5, 1.5), (-1.5, 1.5)),
    )


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Landscape:
    """Rosenbrock's banana valley: a curved, narrow valley with one minimum at :math:`(a, a^2)`.

    .. math::
        f(x, y) = (a - x)^2 + b\\,(y - x^2)^2

    The only critical point is the global minimum :math:`(a, a^2)`, value 0. With the
    default ``b = 100`` the Hessian there has condition number about 2500, and the
    valley floor is easy to find but slow to follow.

    Args:
      a: the minimum's first coordinate; any finite number. Default 1.
      b: the valley's steepness, > 0. Default 100.

    Returns:
      A `Landscape` named ``"rosenbrock"`` with ``x0 = (-1.2, 1)`` (Rosenbrock's own
      start) and bounds ``[-2, 2] x [-1, 3]`` (widened to contain the minimum when
      ``|a| > 1``).

    Raises:
      ValueError: if ``a`` is not finite or ``b <= 0``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import landscapes
      >>> L = landscapes.rosenbrock()
      >>> L.minima.tolist(), round(float(L(jnp.array(L.x0))), 4)
      ([[1.0, 1.0]], 24.2)

    References:
      Rosenbrock, "An automatic method for finding the greatest or least value of a
      function", The Computer Journal 1960, https://doi.org/10.1093/comjnl/3.3.175
    """
    validate.finite("rosenbrock", a=a)
    validate.positive("rosenbrock", b=b)

    def fn(x: jax.Array) -> jax.Array:
        u, v = _xy(x)
        return (a - u) ** 2 + b * (v - u**2) ** 2

    return make(
        "rosenbrock",
        fn,
        minima=[(a, a * a)],
        min_value=0.0,
        x0=(-1.2, 1.0),
        bounds=((-max(2.0, abs(a) + 1.0), max(2.0, abs(a) + 1.0)), (-1.0, max(3.0, a * a + 1.0))),
    )


def _beale_fn(x: jax.Array) -> jax.Array:
    u, v = _xy(x)
    return (1.5 - u + u * v) ** 2 + (2.25 - u + u * v**2) ** 2 + (2.625 - u + u * v**3) ** 2


def beale() -> Landscape:
    """Beale's function: a flat plateau, steep walls and a minimum at :math:`(3, 0.5)`.

    .. math::
        f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2

    In the window :math:`[-4.5, 4.5]^2` there are three critical points: the global
    minimum :math:`(3, 0.5)` (value 0) and two saddles, :math:`(0, 1)` (value 14.203125,
    Hessian eigenvalues :math:`\\pm 27.75`) and about :math:`(0.10054, -2.64451)`.

    Returns:
      A `Landscape` named ``"beale"`` with ``x0 = (1, 1.5)`` and bounds ``[-4.5, 4.5]^2``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import landscapes
      >>> L = landscapes.beale()
      >>> float(L(jnp.array([3.0, 0.5]))), float(L(jnp.array([0.0, 1.0])))
      (0.0, 14.203125)

    References:
      Beale, "On an iterative method for finding a local minimum of a function of more
      than one variable", Technical Report 25, Statistical Techniques Research Group,
      Princeton University 1958.
    """
    return make(
        "beale",
        _beale_fn,
        minima=[(3.0, 0.5)],
        min_value=0.0,
        saddles=[(0.0, 1.0), (0.10053793732415828, -2.644513585023126)],
        x0=(1.0, 1.5),
        bounds=((-4.5, 4.5), (-4.5, 4.5)),
    )


def _himmelblau_fn(x: jax.Array) -> jax.Array:
    u, v = _xy(x)
    return (u**2 + v - 11.0) ** 2 + (u + v**2 - 7.0) ** 2


def himmelblau() -> Landscape:
    """Himmelblau's function: four global minima, four saddles and one local maximum.

    .. math::
        f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2

    The minima (value 0) are :math:`(3, 2)` and about :math:`(-2.80512, 3.13131)`,
    :math:`(-3.77931, -3.28319)`, :math:`(3.58443, -1.84813)`; the local maximum is about
    :math:`(-0.27084, -0.92304)` (value 181.617). Which minimum an optimizer reaches
    depends on where it starts and how it moves.

    Returns:
      A `Landscape` named ``"himmelblau"`` with ``x0 = (0, 0)`` and bounds ``[-5, 5]^2``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import landscapes
      >>> L = landscapes.himmelblau()
      >>> L.minima.shape, L.saddles.shape, L.maxima.shape
      ((4, 2), (4, 2), (1, 2))

    References:
      Himmelblau, "Applied Nonlinear Programming", McGraw-Hill 1972.
    """
    return make(
        "himmelblau",
        _himmelblau_fn,
        minima=[
            (3.0, 2.0),
            (-2.805118086952745, 3.131312518250573),
            (-3.779310253377747, -3.2831859912861696),
            (3.5844283403304917, -1.8481265269644036),
        ],
        min_value=0.0,
        saddles=[
            (0.08667750455539634, 2.8842547011747763),
            (-3.0730257507643897, -0.08135304428796751),
            (3.385154183607021, 0.0738518798377493),
            (-0.12796134673068005, -1.9537149802445766),
        ],
        maxima=[(-0.2708445906673476, -0.9230385564799815)],
        x0=(0.0, 0.0),
        bounds=((-5.0, 5.0), (-5.0, 5.0)),
    )


# Critical points of the whole lattice are listed only up to this dimension (3**dim points).
_RASTRIGIN_LIST_MAX_DIM = 6


def _rastrigin_ridge(a: float) -> float:
    """The 1-D critical point of ``x**2 - a cos(2 pi x)`` between 0.5 and 0.75 (a maximum).

    Its derivative ``2x + 2 pi a sin(2 pi x)`` is 1 at 0.5 and ``1.5 - 2 pi a < 0`` at 0.75
    (for ``a >= 0.25``), so bisection in float64 brackets the root.
    """
    lo, hi = 0.5, 0.75
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if 2.0 * mid + 2.0 * math.pi * a * math.sin(2.0 * math.pi * mid) > 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def rastrigin(dim: int = 2, a: float = 10.0) -> Landscape:
    """Rastrigin's function: a bowl covered in a regular lattice of local minima.

    .. math::
        f(x) = a\\,d + \\sum_{i=1}^{d} \\left(x_i^2 - a \\cos(2 \\pi x_i)\\right)

    The global minimum is the origin (value 0). The function is a sum of identical 1-D
    terms, so its critical points near the origin are the points whose coordinates are
    each 0 or :math:`\\pm m`, where :math:`m \\approx 0.5025` (for :math:`a = 10`) is the
    1-D local maximum: with :math:`k` non-zero coordinates the point is a saddle of index
    :math:`k` for :math:`0 < k < d` and a local maximum for :math:`k = d`. These are listed
    for ``dim <= 6``. Local minima near every integer point are not listed.

    Args:
      dim: the number of coordinates, an integer >= 1. Default 2.
      a: the amplitude of the cosine ripples, >= 0.25 (so that the ripples create
        critical points). Default 10.

    Returns:
      A `Landscape` named ``"rastrigin"`` with ``x0 = (2.2, ..., 2.2)`` (inside the basin
      of a local minimum) and bounds ``[-5.12, 5.12]^dim``.

    Raises:
      ValueError: if ``dim < 1`` or ``a < 0.25``.
      TypeError: if ``dim`` is not an integer.

    Examples:
      >>> from gradtx import landscapes
      >>> L = landscapes.rastrigin()
      >>> L.minima.tolist(), L.saddles.shape, L.maxima.shape
      ([[0.0, 0.0]], (4, 2), (4, 2))
      >>> round(float(L.maxima[0, 0]), 4)
      -0.5025

    References:
      Rastrigin, "Systems of extremal control", Nauka, Moscow 1974;
      Mühlenbein et al., "The parallel genetic algorithm as function optimizer",
      Parallel Computing 1991, https://doi.org/10.1016/0167-8191(91)90064-3
    """
    validate.integer("rastrigin", "dim", dim, 1)
    validate.interval("rastrigin", "a", a, 0.25)
    dim, a = int(dim), float(a)

    def fn(x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        return a * dim + jnp.sum(x**2 - a * jnp.cos(2.0 * math.pi * x))

    saddles, maxima = [], []
    if dim <= _RASTRIGIN_LIST_MAX_DIM:
        m = _rastrigin_ridge(a)
        for point in itertools.product((0.0, -m, m), repeat=dim):
            k = sum(c != 0.0 for c in point)
            if k == dim:
                maxima.append(point)
            elif k > 0:
                saddles.append(point)
    return make(
        "rastrigin",
        fn,
        minima=[(0.0,) * dim],
        min_value=0.0,
        saddles=saddles,
        maxima=maxima,
        x0=(2.2,) * dim,
        bounds=((-5.12, 5.12),) * dim,
    )


def ill_conditioned_quadratic(condition_number: float = 100.0, dim: int = 2) -> Landscape:
    """An axis-aligned quadratic bowl whose curvatures span ``condition_number``.

    .. math::
        f(x) = \\tfrac12 \\sum_{i=1}^{d} \\lambda_i x_i^2, \\qquad
        \\lambda_i = \\kappa^{(i-1)/(d-1)} \\in [1, \\kappa]

    The Hessian is :math:`\\operatorname{diag}(\\lambda)` with condition number
    :math:`\\kappa`; gradient descent with step :math:`\\eta < 2/\\kappa` converges at the
    rate :math:`1 - \\eta` along the flattest direction, the textbook picture of why
    preconditioning helps. With ``dim = 1`` the curvature is 1.

    Args:
      condition_number: :math:`\\kappa`, the ratio of the largest to the smallest
        curvature, >= 1. Default 100.
      dim: the number of coordinates, an integer >= 1. Default 2.

    Returns:
      A `Landscape` named ``"ill_conditioned_quadratic"`` with its minimum at the origin
      (value 0), ``x0 = (1, ..., 1)`` and bounds ``[-1.5, 1.5]^dim``.

    Raises:
      ValueError: if ``condition_number < 1`` or ``dim < 1``.
      TypeError: if ``dim`` is not an integer.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from gradtx import landscapes
      >>> L = landscapes.ill_conditioned_quadratic(condition_number=10.0, dim=2)
      >>> jnp.diag(jax.hessian(L.fn)(jnp.zeros(2))).tolist()
      [1.0, 10.0]
    """
    fn_name = "ill_conditioned_quadratic"
    validate.interval(fn_name, "condition_number", condition_number, 1.0)
    validate.finite(fn_name, condition_number=condition_number)
    validate.integer(fn_name, "dim", dim, 1)
    dim = int(dim)
    curvatures = np.geomspace(1.0, float(condition_number), dim) if dim > 1 else np.ones(1)

    def fn(x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        lam = jnp.asarray(curvatures, dtype=x.dtype)
        return 0.5 * jnp.sum(lam * x**2)

    return make(
        fn_name,
        fn,
        minima=[(0.0,) * dim],
        min_value=0.0,
        x0=(1.0,) * dim,
        bounds=((-1.5, 1.5),) * dim,
    )
