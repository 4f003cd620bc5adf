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
from gradtx.core._base import set_to_zero as set_to_zero
from gradtx.core._base import stateless as stateless
from gradtx.core._base import stateless_with_tree_map as stateless_with_tree_map
from gradtx.core._base import with_extra_args_support as with_extra_args_support
from gradtx.core._combine import chain as chain
from gradtx.core._combine import named_chain as named_chain
from gradtx.core._packing import PackSpec as PackSpec
from gradtx.core._packing import pack as pack
from gradtx.core._packing import unpack as unpack
from gradtx.core._update import apply_updates as apply_updates
from gradtx.core._update import incremental_update as incremental_update
from gradtx.core._validate import TreeMismatchError as TreeMismatchError

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
]
