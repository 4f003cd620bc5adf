"""gradtx: composable gradient transformations for JAX.

Every transform, optimizer, wrapper and schedule is importable flat (``gradtx.adamw``).
``gradtx.tree``, ``gradtx.losses``, ``gradtx.second_order``, ``gradtx.landscapes``,
``gradtx.experiments``, ``gradtx.sharding``, ``gradtx.checkpoint``, ``gradtx.projections``,
``gradtx.assignment``, ``gradtx.perturbations``, ``gradtx.microbatching``, ``gradtx.contrib``,
``gradtx.experimental`` (Optax's, with ``aggregating``) and ``gradtx.tree_utils`` (Optax's
``tree_*`` names for ``gradtx.tree``) are namespaces; all
but ``tree`` (and ``losses``, whose common losses Optax also exposes at the top level) are
imported on first use.
"""

import importlib
import warnings

from gradtx import core, optimizers, schedules, transforms, tree, wrappers
from gradtx.core import ArrayTree as ArrayTree
from gradtx.core import EmptyState as EmptyState
from gradtx.core import GradientTransformation as GradientTransformation
from gradtx.core import GradientTransformationExtraArgs as GradientTransformationExtraArgs
from gradtx.core import MultiNormalDiagFromLogScale as MultiNormalDiagFromLogScale
from gradtx.core import OptState as OptState
from gradtx.core import PackSpec as PackSpec
from gradtx.core import Params as Params
from gradtx.core import ScalarOrSchedule as ScalarOrSchedule
from gradtx.core import TransformInitFn as TransformInitFn
from gradtx.core import TransformUpdateExtraArgsFn as TransformUpdateExtraArgsFn
from gradtx.core import TransformUpdateFn as TransformUpdateFn
from gradtx.core import TreeMismatchError as TreeMismatchError
from gradtx.core import Updates as Updates
from gradtx.core import apply_updates as apply_updates
from gradtx.core import global_norm as global_norm
from gradtx.core import identity as identity
from gradtx.core import incremental_update as incremental_update
from gradtx.core import init_empty_state as init_empty_state
from gradtx.core import matrix_inverse_pth_root as matrix_inverse_pth_root
from gradtx.core import multi_normal as multi_normal
from gradtx.core import nnls as nnls
from gradtx.core import pack as pack
from gradtx.core import periodic_update as periodic_update
from gradtx.core import power_iteration as power_iteration
from gradtx.core import safe_increment as safe_increment
from gradtx.core import safe_int32_increment as safe_int32_increment
from gradtx.core import safe_norm as safe_norm
from gradtx.core import safe_root_mean_squares as safe_root_mean_squares
from gradtx.core import scale_gradient as scale_gradient
from gradtx.core import set_to_zero as set_to_zero
from gradtx.core import stateless as stateless
from gradtx.core import stateless_with_tree_map as stateless_with_tree_map
from gradtx.core import unpack as unpack
from gradtx.core import with_extra_args_support as with_extra_args_support

# Optax exposes these losses at the top level too (optax.l2_loss is optax.losses.l2_loss).
from gradtx.losses import convex_kl_divergence as convex_kl_divergence
from gradtx.losses import cosine_distance as cosine_distance
from gradtx.losses import cosine_similarity as cosine_similarity
from gradtx.losses import ctc_loss as ctc_loss
from gradtx.losses import ctc_loss_with_forward_probs as ctc_loss_with_forward_probs
from gradtx.losses import generalized_kl_divergence as generalized_kl_divergence
from gradtx.losses import hinge_loss as hinge_loss
from gradtx.losses import huber_loss as huber_loss
from gradtx.losses import kl_divergence as kl_divergence
from gradtx.losses import l2_loss as l2_loss
from gradtx.losses import log_cosh as log_cosh
from gradtx.losses import ntxent as ntxent
from gradtx.losses import safe_softmax_cross_entropy as safe_softmax_cross_entropy
from gradtx.losses import sigmoid_binary_cross_entropy as sigmoid_binary_cross_entropy
from gradtx.losses import sigmoid_focal_loss as sigmoid_focal_loss
from gradtx.losses import smooth_labels as smooth_labels
from gradtx.losses import softmax_cross_entropy as softmax_cross_entropy
from gradtx.losses import (
    softmax_cross_entropy_with_integer_labels as softmax_cross_entropy_with_integer_labels,
)
from gradtx.losses import squared_error as squared_error
from gradtx.microbatching import microbatch as microbatch
from gradtx.optimizers import MaskOrFn as MaskOrFn
from gradtx.optimizers import adabelief as adabelief
from gradtx.optimizers import adadelta as adadelta
from gradtx.optimizers import adafactor as adafactor
from gradtx.optimizers import adagrad as adagrad
from gradtx.optimizers import adam as adam
from gradtx.optimizers import adamax as adamax
from gradtx.optimizers import adamaxw as adamaxw
from gradtx.optimizers import adamw as adamw
from gradtx.optimizers import adan as adan
from gradtx.optimizers import amsgrad as amsgrad
from gradtx.optimizers import fromage as fromage
from gradtx.optimizers import lamb as lamb
from gradtx.optimizers import lars as lars
from gradtx.optimizers import lbfgs as lbfgs
from gradtx.optimizers import lion as lion
from gradtx.optimizers import nadam as nadam
from gradtx.optimizers import nadamw as nadamw
from gradtx.optimizers import noisy_sgd as noisy_sgd
from gradtx.optimizers import novograd as novograd
from gradtx.optimizers import optimistic_adam as optimistic_adam
from gradtx.optimizers import optimistic_adam_v2 as optimistic_adam_v2
from gradtx.optimizers import optimistic_gradient_descent as optimistic_gradient_descent
from gradtx.optimizers import polyak_sgd as polyak_sgd
from gradtx.optimizers import radam as radam
from gradtx.optimizers import rmsprop as rmsprop
from gradtx.optimizers import rprop as rprop
from gradtx.optimizers import sgd as sgd
from gradtx.optimizers import sign_sgd as sign_sgd
from gradtx.optimizers import signum as signum
from gradtx.optimizers import sm3 as sm3
from gradtx.optimizers import yogi as yogi
from gradtx.schedules import InjectHyperparamsState as InjectHyperparamsState
from gradtx.schedules import InjectStatefulHyperparamsState as InjectStatefulHyperparamsState
from gradtx.schedules import LRRangeTestResult as LRRangeTestResult
from gradtx.schedules import ReduceLROnPlateauState as ReduceLROnPlateauState
from gradtx.schedules import Schedule as Schedule
from gradtx.schedules import StatefulSchedule as StatefulSchedule
from gradtx.schedules import WrappedSchedule as WrappedSchedule
from gradtx.schedules import WrappedScheduleState as WrappedScheduleState
from gradtx.schedules import constant_schedule as constant_schedule
from gradtx.schedules import cosine_decay_schedule as cosine_decay_schedule
from gradtx.schedules import cosine_onecycle_schedule as cosine_onecycle_schedule
from gradtx.schedules import current_learning_rate as current_learning_rate
from gradtx.schedules import cyclic_schedule as cyclic_schedule
from gradtx.schedules import exponential_decay as exponential_decay
from gradtx.schedules import inject_hyperparams as inject_hyperparams
from gradtx.schedules import inject_stateful_hyperparams as inject_stateful_hyperparams
from gradtx.schedules import inverse_sqrt_schedule as inverse_sqrt_schedule
from gradtx.schedules import join_schedules as join_schedules
from gradtx.schedules import linear_onecycle_schedule as linear_onecycle_schedule
from gradtx.schedules import linear_scaling_rule as linear_scaling_rule
from gradtx.schedules import linear_schedule as linear_schedule
from gradtx.schedules import lr_range_test as lr_range_test
from gradtx.schedules import piecewise_constant_schedule as piecewise_constant_schedule
from gradtx.schedules import piecewise_interpolate_schedule as piecewise_interpolate_schedule
from gradtx.schedules import plot_lr_range_test as plot_lr_range_test
from gradtx.schedules import polynomial_schedule as polynomial_schedule
from gradtx.schedules import reduce_on_plateau as reduce_on_plateau
from gradtx.schedules import sgdr_schedule as sgdr_schedule
from gradtx.schedules import warmup_constant_schedule as warmup_constant_schedule
from gradtx.schedules import warmup_cosine_decay_schedule as warmup_cosine_decay_schedule
from gradtx.schedules import warmup_exponential_decay_schedule as warmup_exponential_decay_schedule
from gradtx.transforms import AdaptiveGradClipState as AdaptiveGradClipState
from gradtx.transforms import AddDecayedWeightsState as AddDecayedWeightsState
from gradtx.transforms import AddNoiseState as AddNoiseState
from gradtx.transforms import BacktrackingLinesearchInfo as BacktrackingLinesearchInfo
from gradtx.transforms import ClipByGlobalNormState as ClipByGlobalNormState
from gradtx.transforms import ClipState as ClipState
from gradtx.transforms import EmaState as EmaState
from gradtx.transforms import FactoredState as FactoredState
from gradtx.transforms import NonNegativeParamsState as NonNegativeParamsState
from gradtx.transforms import ScaleByAdaDeltaState as ScaleByAdaDeltaState
from gradtx.transforms import ScaleByAdamState as ScaleByAdamState
from gradtx.transforms import ScaleByAdanState as ScaleByAdanState
from gradtx.transforms import ScaleByAmsgradState as ScaleByAmsgradState
from gradtx.transforms import (
    ScaleByBacktrackingLinesearchState as ScaleByBacktrackingLinesearchState,
)
from gradtx.transforms import ScaleByBeliefState as ScaleByBeliefState
from gradtx.transforms import ScaleByDistanceOverGradientsState as ScaleByDistanceOverGradientsState
from gradtx.transforms import ScaleByLBFGSState as ScaleByLBFGSState
from gradtx.transforms import ScaleByLionState as ScaleByLionState
from gradtx.transforms import ScaleByNovogradState as ScaleByNovogradState
from gradtx.transforms import ScaleByOptimisticGradientState as ScaleByOptimisticGradientState
from gradtx.transforms import ScaleByRmsState as ScaleByRmsState
from gradtx.transforms import ScaleByRmsWithCountState as ScaleByRmsWithCountState
from gradtx.transforms import ScaleByRpropState as ScaleByRpropState
from gradtx.transforms import ScaleByRssState as ScaleByRssState
from gradtx.transforms import ScaleByRStdDevState as ScaleByRStdDevState
from gradtx.transforms import ScaleByRStdDevWithCountState as ScaleByRStdDevWithCountState
from gradtx.transforms import ScaleByScheduleState as ScaleByScheduleState
from gradtx.transforms import ScaleBySM3State as ScaleBySM3State
from gradtx.transforms import ScaleByTrustRatioState as ScaleByTrustRatioState
from gradtx.transforms import ScaleByZoomLinesearchState as ScaleByZoomLinesearchState
from gradtx.transforms import ScaleState as ScaleState
from gradtx.transforms import TraceState as TraceState
from gradtx.transforms import WeightDecaySchedule as WeightDecaySchedule
from gradtx.transforms import ZeroNansState as ZeroNansState
from gradtx.transforms import ZoomLinesearchInfo as ZoomLinesearchInfo
from gradtx.transforms import adaptive_grad_clip as adaptive_grad_clip
from gradtx.transforms import add_decayed_weights as add_decayed_weights
from gradtx.transforms import add_noise as add_noise
from gradtx.transforms import centralize as centralize
from gradtx.transforms import chain as chain
from gradtx.transforms import clip as clip
from gradtx.transforms import clip_by_block_rms as clip_by_block_rms
from gradtx.transforms import clip_by_global_norm as clip_by_global_norm
from gradtx.transforms import ema as ema
from gradtx.transforms import keep_params_nonnegative as keep_params_nonnegative
from gradtx.transforms import named_chain as named_chain
from gradtx.transforms import normalize_by_update_norm as normalize_by_update_norm
from gradtx.transforms import per_example_global_norm_clip as per_example_global_norm_clip
from gradtx.transforms import per_example_layer_norm_clip as per_example_layer_norm_clip
from gradtx.transforms import scale as scale
from gradtx.transforms import scale_by_adadelta as scale_by_adadelta
from gradtx.transforms import scale_by_adam as scale_by_adam
from gradtx.transforms import scale_by_adamax as scale_by_adamax
from gradtx.transforms import scale_by_adan as scale_by_adan
from gradtx.transforms import scale_by_amsgrad as scale_by_amsgrad
from gradtx.transforms import scale_by_backtracking_linesearch as scale_by_backtracking_linesearch
from gradtx.transforms import scale_by_belief as scale_by_belief
from gradtx.transforms import scale_by_distance_over_gradients as scale_by_distance_over_gradients
from gradtx.transforms import scale_by_factored_rms as scale_by_factored_rms
from gradtx.transforms import scale_by_lbfgs as scale_by_lbfgs
from gradtx.transforms import scale_by_learning_rate as scale_by_learning_rate
from gradtx.transforms import scale_by_lion as scale_by_lion
from gradtx.transforms import scale_by_novograd as scale_by_novograd
from gradtx.transforms import scale_by_optimistic_gradient as scale_by_optimistic_gradient
from gradtx.transforms import scale_by_param_block_norm as scale_by_param_block_norm
from gradtx.transforms import scale_by_param_block_rms as scale_by_param_block_rms
from gradtx.transforms import scale_by_polyak as scale_by_polyak
from gradtx.transforms import scale_by_radam as scale_by_radam
from gradtx.transforms import scale_by_rms as scale_by_rms
from gradtx.transforms import scale_by_rprop as scale_by_rprop
from gradtx.transforms import scale_by_rss as scale_by_rss
from gradtx.transforms import scale_by_schedule as scale_by_schedule
from gradtx.transforms import scale_by_sign as scale_by_sign
from gradtx.transforms import scale_by_sm3 as scale_by_sm3
from gradtx.transforms import scale_by_stddev as scale_by_stddev
from gradtx.transforms import scale_by_trust_ratio as scale_by_trust_ratio
from gradtx.transforms import scale_by_yogi as scale_by_yogi
from gradtx.transforms import scale_by_zoom_linesearch as scale_by_zoom_linesearch
from gradtx.transforms import trace as trace
from gradtx.transforms import unitwise_clip as unitwise_clip
from gradtx.transforms import unitwise_norm as unitwise_norm
from gradtx.transforms import value_and_grad_from_state as value_and_grad_from_state
from gradtx.transforms import zero_nans as zero_nans
from gradtx.tree import bias_correction as bias_correction
from gradtx.tree import map_params as tree_map_params
from gradtx.tree import update_infinity_moment as update_infinity_moment
from gradtx.tree import update_moment as update_moment
from gradtx.tree import update_moment_per_elem_norm as update_moment_per_elem_norm
from gradtx.wrappers import ApplyEvery as ApplyEvery
from gradtx.wrappers import ApplyIfFiniteState as ApplyIfFiniteState
from gradtx.wrappers import AverageParamsState as AverageParamsState
from gradtx.wrappers import ConditionallyMaskState as ConditionallyMaskState
from gradtx.wrappers import ConditionallyTransformState as ConditionallyTransformState
from gradtx.wrappers import ConditionFn as ConditionFn
from gradtx.wrappers import DynamicLossScaleState as DynamicLossScaleState
from gradtx.wrappers import LookaheadParams as LookaheadParams
from gradtx.wrappers import LookaheadSlowParamsState as LookaheadSlowParamsState
from gradtx.wrappers import LookaheadState as LookaheadState
from gradtx.wrappers import MaskedNode as MaskedNode
from gradtx.wrappers import MaskedState as MaskedState
from gradtx.wrappers import MonitorState as MonitorState
from gradtx.wrappers import MonitorStatsState as MonitorStatsState
from gradtx.wrappers import MultiSteps as MultiSteps
from gradtx.wrappers import MultiStepsState as MultiStepsState
from gradtx.wrappers import MultiTransformState as MultiTransformState
from gradtx.wrappers import PartitionState as PartitionState
from gradtx.wrappers import QuantizedArray as QuantizedArray
from gradtx.wrappers import QuantizedState as QuantizedState
from gradtx.wrappers import ShouldSkipUpdateFunction as ShouldSkipUpdateFunction
from gradtx.wrappers import SnapshotState as SnapshotState
from gradtx.wrappers import apply_every as apply_every
from gradtx.wrappers import apply_if_finite as apply_if_finite
from gradtx.wrappers import average_params as average_params
from gradtx.wrappers import averaged_params as averaged_params
from gradtx.wrappers import conditionally_mask as conditionally_mask
from gradtx.wrappers import conditionally_transform as conditionally_transform
from gradtx.wrappers import dynamic_loss_scale as dynamic_loss_scale
from gradtx.wrappers import flatten as flatten
from gradtx.wrappers import freeze as freeze
from gradtx.wrappers import lookahead as lookahead
from gradtx.wrappers import loss_scale as loss_scale
from gradtx.wrappers import masked as masked
from gradtx.wrappers import measure_with_ema as measure_with_ema
from gradtx.wrappers import monitor as monitor
from gradtx.wrappers import multi_transform as multi_transform
from gradtx.wrappers import partition as partition
from gradtx.wrappers import quantized_state as quantized_state
from gradtx.wrappers import selective_transform as selective_transform
from gradtx.wrappers import skip_large_updates as skip_large_updates
from gradtx.wrappers import skip_not_finite as skip_not_finite
from gradtx.wrappers import snapshot as snapshot
from gradtx.wrappers import training_monitor as training_monitor

__version__ = "0.1.0"

_LAZY_NAMESPACES = (
    "assignment",
    "checkpoint",
    "contrib",
    "experimental",
    "experiments",
    "landscapes",
    "losses",
    "microbatching",
    "perturbations",
    "projections",
    "second_order",
    "sharding",
    "tree_utils",
)


# Optax's top-level aliases of three optax.contrib names, deprecated since Optax 0.1.8 and
# still answered by its module __getattr__ with a DeprecationWarning: the same here.
_DEPRECATED_CONTRIB_ALIASES = (
    "DifferentiallyPrivateAggregateState",
    "differentially_private_aggregate",
    "dpsgd",
)


def __getattr__(name: str):
    if name in _LAZY_NAMESPACES:
        return importlib.import_module(f"gradtx.{name}")
    if name in _DEPRECATED_CONTRIB_ALIASES:
        warnings.warn(
            f"gradtx.{name} is deprecated (as optax.{name} is since Optax 0.1.8): use "
            f"gradtx.contrib.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("gradtx.contrib"), name)
    raise AttributeError(f"module 'gradtx' has no attribute {name!r}")


__all__ = [
    "AdaptiveGradClipState",
    "AddDecayedWeightsState",
    "AddNoiseState",
    "ApplyEvery",
    "ApplyIfFiniteState",
    "ArrayTree",
    "AverageParamsState",
    "BacktrackingLinesearchInfo",
    "ClipByGlobalNormState",
    "ClipState",
    "ConditionFn",
    "ConditionallyMaskState",
    "ConditionallyTransformState",
    "DynamicLossScaleState",
    "EmaState",
    "EmptyState",
    "FactoredState",
    "GradientTransformation",
    "GradientTransformationExtraArgs",
    "InjectHyperparamsState",
    "InjectStatefulHyperparamsState",
    "LRRangeTestResult",
    "LookaheadParams",
    "LookaheadSlowParamsState",
    "LookaheadState",
    "MaskOrFn",
    "MaskedNode",
    "MaskedState",
    "MonitorState",
    "MonitorStatsState",
    "MultiNormalDiagFromLogScale",
    "MultiSteps",
    "MultiStepsState",
    "MultiTransformState",
    "NonNegativeParamsState",
    "OptState",
    "PackSpec",
    "Params",
    "PartitionState",
    "QuantizedArray",
    "QuantizedState",
    "ReduceLROnPlateauState",
    "ScalarOrSchedule",
    "ScaleByAdaDeltaState",
    "ScaleByAdamState",
    "ScaleByAdanState",
    "ScaleByAmsgradState",
    "ScaleByBacktrackingLinesearchState",
    "ScaleByBeliefState",
    "ScaleByDistanceOverGradientsState",
    "ScaleByLBFGSState",
    "ScaleByLionState",
    "ScaleByNovogradState",
    "ScaleByOptimisticGradientState",
    "ScaleByRStdDevState",
    "ScaleByRStdDevWithCountState",
    "ScaleByRmsState",
    "ScaleByRmsWithCountState",
    "ScaleByRpropState",
    "ScaleByRssState",
    "ScaleBySM3State",
    "ScaleByScheduleState",
    "ScaleByTrustRatioState",
    "ScaleByZoomLinesearchState",
    "ScaleState",
    "Schedule",
    "ShouldSkipUpdateFunction",
    "SnapshotState",
    "StatefulSchedule",
    "TraceState",
    "TransformInitFn",
    "TransformUpdateExtraArgsFn",
    "TransformUpdateFn",
    "TreeMismatchError",
    "Updates",
    "WeightDecaySchedule",
    "WrappedSchedule",
    "WrappedScheduleState",
    "ZeroNansState",
    "ZoomLinesearchInfo",
    "adabelief",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamaxw",
    "adamw",
    "adan",
    "adaptive_grad_clip",
    "add_decayed_weights",
    "add_noise",
    "amsgrad",
    "apply_every",
    "apply_if_finite",
    "apply_updates",
    "assignment",
    "average_params",
    "averaged_params",
    "bias_correction",
    "centralize",
    "chain",
    "checkpoint",
    "clip",
    "clip_by_block_rms",
    "clip_by_global_norm",
    "conditionally_mask",
    "conditionally_transform",
    "constant_schedule",
    "contrib",
    "convex_kl_divergence",
    "core",
    "cosine_decay_schedule",
    "cosine_distance",
    "cosine_onecycle_schedule",
    "cosine_similarity",
    "ctc_loss",
    "ctc_loss_with_forward_probs",
    "current_learning_rate",
    "cyclic_schedule",
    "dynamic_loss_scale",
    "ema",
    "experimental",
    "experiments",
    "exponential_decay",
    "flatten",
    "freeze",
    "fromage",
    "generalized_kl_divergence",
    "global_norm",
    "hinge_loss",
    "huber_loss",
    "identity",
    "incremental_update",
    "init_empty_state",
    "inject_hyperparams",
    "inject_stateful_hyperparams",
    "inverse_sqrt_schedule",
    "join_schedules",
    "keep_params_nonnegative",
    "kl_divergence",
    "l2_loss",
    "lamb",
    "landscapes",
    "lars",
    "lbfgs",
    "linear_onecycle_schedule",
    "linear_scaling_rule",
    "linear_schedule",
    "lion",
    "log_cosh",
    "lookahead",
    "loss_scale",
    "losses",
    "lr_range_test",
    "masked",
    "matrix_inverse_pth_root",
    "measure_with_ema",
    "microbatch",
    "microbatching",
    "monitor",
    "multi_normal",
    "multi_transform",
    "nadam",
    "nadamw",
    "named_chain",
    "nnls",
    "noisy_sgd",
    "normalize_by_update_norm",
    "novograd",
    "ntxent",
    "optimistic_adam",
    "optimistic_adam_v2",
    "optimistic_gradient_descent",
    "optimizers",
    "pack",
    "partition",
    "per_example_global_norm_clip",
    "per_example_layer_norm_clip",
    "periodic_update",
    "perturbations",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "plot_lr_range_test",
    "polyak_sgd",
    "polynomial_schedule",
    "power_iteration",
    "projections",
    "quantized_state",
    "radam",
    "reduce_on_plateau",
    "rmsprop",
    "rprop",
    "safe_increment",
    "safe_int32_increment",
    "safe_norm",
    "safe_root_mean_squares",
    "safe_softmax_cross_entropy",
    "scale",
    "scale_by_adadelta",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_adan",
    "scale_by_amsgrad",
    "scale_by_backtracking_linesearch",
    "scale_by_belief",
    "scale_by_distance_over_gradients",
    "scale_by_factored_rms",
    "scale_by_lbfgs",
    "scale_by_learning_rate",
    "scale_by_lion",
    "scale_by_novograd",
    "scale_by_optimistic_gradient",
    "scale_by_param_block_norm",
    "scale_by_param_block_rms",
    "scale_by_polyak",
    "scale_by_radam",
    "scale_by_rms",
    "scale_by_rprop",
    "scale_by_rss",
    "scale_by_schedule",
    "scale_by_sign",
    "scale_by_sm3",
    "scale_by_stddev",
    "scale_by_trust_ratio",
    "scale_by_yogi",
    "scale_by_zoom_linesearch",
    "scale_gradient",
    "schedules",
    "second_order",
    "selective_transform",
    "set_to_zero",
    "sgd",
    "sgdr_schedule",
    "sharding",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "sign_sgd",
    "signum",
    "skip_large_updates",
    "skip_not_finite",
    "sm3",
    "smooth_labels",
    "snapshot",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "squared_error",
    "stateless",
    "stateless_with_tree_map",
    "trace",
    "training_monitor",
    "transforms",
    "tree",
    "tree_map_params",
    "tree_utils",
    "unitwise_clip",
    "unitwise_norm",
    "unpack",
    "update_infinity_moment",
    "update_moment",
    "update_moment_per_elem_norm",
    "value_and_grad_from_state",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    "with_extra_args_support",
    "wrappers",
    "yogi",
    "zero_nans",
]
