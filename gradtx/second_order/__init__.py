"""Curvature: products -> estimators -> spectra -> solvers -> transforms (``gradtx.second_order``).

Everything here works on pytrees and matrix-free: a vector has the structure of the
parameters, and a linear operator is a matvec callable ``v -> A v`` (such as
``hvp_operator(f, params)``), or a dense square array for small problems. Random
estimators take an explicit ``key``; iterative methods run in ``lax`` loops with static
iteration bounds and return NamedTuple results. The transforms ``scale_by_newton_cg``,
``scale_by_trust_region`` and ``scale_by_saddle_free_newton`` read the loss through
``value_fn=``.
"""

from gradtx.second_order._estimators import (
    gauss_newton_bartlett_diag as gauss_newton_bartlett_diag,
)
from gradtx.second_order._estimators import hessian_diag as hessian_diag
from gradtx.second_order._estimators import hutchinson_trace as hutchinson_trace
from gradtx.second_order._estimators import hutchpp_trace as hutchpp_trace
from gradtx.second_order._linear_solvers import CGResult as CGResult
from gradtx.second_order._linear_solvers import SteihaugResult as SteihaugResult
from gradtx.second_order._linear_solvers import cg_solve as cg_solve
from gradtx.second_order._linear_solvers import newton_direction as newton_direction
from gradtx.second_order._linear_solvers import steihaug_cg as steihaug_cg
from gradtx.second_order._minimizers import MinimizeResult as MinimizeResult
from gradtx.second_order._minimizers import NegativeCurvatureResult as NegativeCurvatureResult
from gradtx.second_order._minimizers import TrustRegionResult as TrustRegionResult
from gradtx.second_order._minimizers import (
    negative_curvature_direction as negative_curvature_direction,
)
from gradtx.second_order._minimizers import newton_cg as newton_cg
from gradtx.second_order._minimizers import saddle_free_newton as saddle_free_newton
from gradtx.second_order._minimizers import trust_region as trust_region
from gradtx.second_order._products import gnvp as gnvp
from gradtx.second_order._products import gnvp_operator as gnvp_operator
from gradtx.second_order._products import hessian as hessian
from gradtx.second_order._products import hvp as hvp
from gradtx.second_order._products import hvp_operator as hvp_operator
from gradtx.second_order._spectrum import EigenResult as EigenResult
from gradtx.second_order._spectrum import LanczosResult as LanczosResult
from gradtx.second_order._spectrum import PowerIterationResult as PowerIterationResult
from gradtx.second_order._spectrum import SpectralDensity as SpectralDensity
from gradtx.second_order._spectrum import eigenvalue_density as eigenvalue_density
from gradtx.second_order._spectrum import lanczos as lanczos
from gradtx.second_order._spectrum import power_iteration as power_iteration
from gradtx.second_order._spectrum import top_eigenvalues as top_eigenvalues
from gradtx.second_order._transforms import ScaleByNewtonCGState as ScaleByNewtonCGState
from gradtx.second_order._transforms import (
    ScaleBySaddleFreeNewtonState as ScaleBySaddleFreeNewtonState,
)
from gradtx.second_order._transforms import ScaleByTrustRegionState as ScaleByTrustRegionState
from gradtx.second_order._transforms import scale_by_newton_cg as scale_by_newton_cg
from gradtx.second_order._transforms import (
    scale_by_saddle_free_newton as scale_by_saddle_free_newton,
)
from gradtx.second_order._transforms import scale_by_trust_region as scale_by_trust_region

__all__ = [
    "CGResult",
    "EigenResult",
    "LanczosResult",
    "MinimizeResult",
    "NegativeCurvatureResult",
    "PowerIterationResult",
    "ScaleByNewtonCGState",
    "ScaleBySaddleFreeNewtonState",
    "ScaleByTrustRegionState",
    "SpectralDensity",
    "SteihaugResult",
    "TrustRegionResult",
    "cg_solve",
    "eigenvalue_density",
    "gauss_newton_bartlett_diag",
    "gnvp",
    "gnvp_operator",
    "hessian",
    "hessian_diag",
    "hutchinson_trace",
    "hutchpp_trace",
    "hvp",
    "hvp_operator",
    "lanczos",
    "negative_curvature_direction",
    "newton_cg",
    "newton_direction",
    "power_iteration",
    "saddle_free_newton",
    "scale_by_newton_cg",
    "scale_by_saddle_free_newton",
    "scale_by_trust_region",
    "steihaug_cg",
    "top_eigenvalues",
    "trust_region",
]
