"""The protocol: transforms, composition and applying updates."""

from gradtx.core._base import ArrayTree as ArrayTree
from gradtx.core._base import EmptyState as EmptyState
from gradtx.core._base import GradientTransformation as GradientTransformation
from gradtx.core._base import GradientTransformationExtraArgs as GradientTransformationExtraArgs
from gradtx.core._base import OptState as OptState
from gradtx.core._base import Params as Params
from gradtx.core._base import ScalarOrSchedule as ScalarOrSchedule
from gradtx.core._base import Schedule as Schedule
from gradtx.core._base import TransformInitFn as TransformInitFn
from gradtx.core._base import TransformUpdateFn as TransformUpdateFn
from gradtx.core._base import Updates as Updates
from gradtx.core._base import identity as identity
from gradtx.core._base import init_empty_state as init_empty_state
from gradtx.core._base import set_to_zero as set_to_zero
from gradtx.core._base import stateless as stateless
from gradtx.core._base import stateless_with_tree_map as stateless_with_tree_map
from gradtx.core._base import with_extra_args_support as with_extra_args_support
from gradtx.core._combine import chain as chain
from gradtx.core._combine import named_chain as named_chain
from gradtx.core._linear_algebra import matrix_inverse_pth_root as matrix_inverse_pth_root
from gradtx.core._linear_algebra import nnls as nnls
from gradtx.core._linear_algebra import power_iteration as power_iteration
from gradtx.core._packing import PackSpec as PackSpec
from gradtx.core._packing import pack as pack
from gradtx.core._packing import unpack as unpack
from gradtx.core._update import apply_updates as apply_updates
from gradtx.core._update import incremental_update as incremental_update
from gradtx.core._utilities import MultiNormalDiagFromLogScale as MultiNormalDiagFromLogScale
from gradtx.core._utilities import TransformUpdateExtraArgsFn as TransformUpdateExtraArgsFn
from gradtx.core._utilities import global_norm as global_norm
from gradtx.core._utilities import multi_normal as multi_normal
from gradtx.core._utilities import periodic_update as periodic_update
from gradtx.core._utilities import safe_increment as safe_increment
from gradtx.core._utilities import safe_int32_increment as safe_int32_increment
from gradtx.core._utilities import safe_norm as safe_norm
from gradtx.core._utilities import safe_root_mean_squares as safe_root_mean_squares
from gradtx.core._utilities import scale_gradient as scale_gradient
from gradtx.core.validate import TreeMismatchError as TreeMismatchError

__all__ = [
    "ArrayTree",
    "EmptyState",
    "GradientTransformation",
    "GradientTransformationExtraArgs",
    "OptState",
    "PackSpec",
    "Params",
    "ScalarOrSchedule",
    "Schedule",
    "TransformInitFn",
    "TransformUpdateFn",
    "TreeMismatchError",
    "Updates",
    "apply_updates",
    "chain",
    "identity",
    "incremental_update",
    "named_chain",
    "pack",
    "set_to_zero",
    "stateless",
    "stateless_with_tree_map",
    "unpack",
    "with_extra_args_support",
    # issue 15: Optax's top-level utilities and linear algebra
    "MultiNormalDiagFromLogScale",
    "TransformUpdateExtraArgsFn",
    "global_norm",
    "init_empty_state",
    "multi_normal",
    "periodic_update",
    "safe_increment",
    "safe_int32_increment",
    "safe_norm",
    "safe_root_mean_squares",
    "scale_gradient",
    "matrix_inverse_pth_root",
    "nnls",
    "power_iteration",
]
