"""Composable gradient transforms.

Each private module lists its public names in ``__all__``; this package re-exports
them (``gradtx.transforms.X``) and ``gradtx`` re-exports them flat (``gradtx.X``).
"""

from gradtx.core import chain as chain
from gradtx.core import named_chain as named_chain
from gradtx.transforms._adam_family import ScaleByAdamState as ScaleByAdamState
from gradtx.transforms._adam_family import ScaleByAmsgradState as ScaleByAmsgradState
from gradtx.transforms._adam_family import ScaleByBeliefState as ScaleByBeliefState
from gradtx.transforms._adam_family import scale_by_adam as scale_by_adam
from gradtx.transforms._adam_family import scale_by_adamax as scale_by_adamax
from gradtx.transforms._adam_family import scale_by_amsgrad as scale_by_amsgrad
from gradtx.transforms._adam_family import scale_by_belief as scale_by_belief
from gradtx.transforms._adam_family import scale_by_radam as scale_by_radam
from gradtx.transforms._adam_family import scale_by_yogi as scale_by_yogi
from gradtx.transforms._adam_variants import ScaleByAdanState as ScaleByAdanState
from gradtx.transforms._adam_variants import ScaleByLionState as ScaleByLionState
from gradtx.transforms._adam_variants import ScaleByNovogradState as ScaleByNovogradState
from gradtx.transforms._adam_variants import scale_by_adan as scale_by_adan
from gradtx.transforms._adam_variants import scale_by_lion as scale_by_lion
from gradtx.transforms._adam_variants import scale_by_novograd as scale_by_novograd
from gradtx.transforms._adding import AddNoiseState as AddNoiseState
from gradtx.transforms._adding import WeightDecaySchedule as WeightDecaySchedule
from gradtx.transforms._adding import add_decayed_weights as add_decayed_weights
from gradtx.transforms._adding import add_noise as add_noise
from gradtx.transforms._clipping import adaptive_grad_clip as adaptive_grad_clip
from gradtx.transforms._clipping import clip as clip
from gradtx.transforms._clipping import clip_by_block_rms as clip_by_block_rms
from gradtx.transforms._clipping import clip_by_global_norm as clip_by_global_norm
from gradtx.transforms._clipping import per_example_global_norm_clip as per_example_global_norm_clip
from gradtx.transforms._constraints import ZeroNansState as ZeroNansState
from gradtx.transforms._constraints import centralize as centralize
from gradtx.transforms._constraints import keep_params_nonnegative as keep_params_nonnegative
from gradtx.transforms._constraints import zero_nans as zero_nans
from gradtx.transforms._distance import (
    ScaleByDistanceOverGradientsState as ScaleByDistanceOverGradientsState,
)
from gradtx.transforms._distance import (
    scale_by_distance_over_gradients as scale_by_distance_over_gradients,
)
from gradtx.transforms._empty_states import AdaptiveGradClipState as AdaptiveGradClipState
from gradtx.transforms._empty_states import AddDecayedWeightsState as AddDecayedWeightsState
from gradtx.transforms._empty_states import ClipByGlobalNormState as ClipByGlobalNormState
from gradtx.transforms._empty_states import ClipState as ClipState
from gradtx.transforms._empty_states import NonNegativeParamsState as NonNegativeParamsState
from gradtx.transforms._empty_states import ScaleByTrustRatioState as ScaleByTrustRatioState
from gradtx.transforms._empty_states import ScaleState as ScaleState
from gradtx.transforms._factored import FactoredState as FactoredState
from gradtx.transforms._factored import scale_by_factored_rms as scale_by_factored_rms
from gradtx.transforms._lbfgs import ScaleByLBFGSState as ScaleByLBFGSState
from gradtx.transforms._lbfgs import scale_by_lbfgs as scale_by_lbfgs
from gradtx.transforms._linesearch import BacktrackingLinesearchInfo as BacktrackingLinesearchInfo
from gradtx.transforms._linesearch import (
    ScaleByBacktrackingLinesearchState as ScaleByBacktrackingLinesearchState,
)
from gradtx.transforms._linesearch import ScaleByZoomLinesearchState as ScaleByZoomLinesearchState
from gradtx.transforms._linesearch import ZoomLinesearchInfo as ZoomLinesearchInfo
from gradtx.transforms._linesearch import (
    scale_by_backtracking_linesearch as scale_by_backtracking_linesearch,
)
from gradtx.transforms._linesearch import scale_by_zoom_linesearch as scale_by_zoom_linesearch
from gradtx.transforms._linesearch import value_and_grad_from_state as value_and_grad_from_state
from gradtx.transforms._momentum import EmaState as EmaState
from gradtx.transforms._momentum import TraceState as TraceState
from gradtx.transforms._momentum import ema as ema
from gradtx.transforms._momentum import trace as trace
from gradtx.transforms._optimistic import (
    ScaleByOptimisticGradientState as ScaleByOptimisticGradientState,
)
from gradtx.transforms._optimistic import (
    scale_by_optimistic_gradient as scale_by_optimistic_gradient,
)
from gradtx.transforms._param_block import normalize_by_update_norm as normalize_by_update_norm
from gradtx.transforms._param_block import scale_by_param_block_norm as scale_by_param_block_norm
from gradtx.transforms._param_block import scale_by_param_block_rms as scale_by_param_block_rms
from gradtx.transforms._per_example import (
    per_example_layer_norm_clip as per_example_layer_norm_clip,
)
from gradtx.transforms._polyak import scale_by_polyak as scale_by_polyak
from gradtx.transforms._rms_family import ScaleByAdaDeltaState as ScaleByAdaDeltaState
from gradtx.transforms._rms_family import ScaleByRmsState as ScaleByRmsState
from gradtx.transforms._rms_family import ScaleByRmsWithCountState as ScaleByRmsWithCountState
from gradtx.transforms._rms_family import ScaleByRssState as ScaleByRssState
from gradtx.transforms._rms_family import ScaleByRStdDevState as ScaleByRStdDevState
from gradtx.transforms._rms_family import (
    ScaleByRStdDevWithCountState as ScaleByRStdDevWithCountState,
)
from gradtx.transforms._rms_family import scale_by_adadelta as scale_by_adadelta
from gradtx.transforms._rms_family import scale_by_rms as scale_by_rms
from gradtx.transforms._rms_family import scale_by_rss as scale_by_rss
from gradtx.transforms._rms_family import scale_by_stddev as scale_by_stddev
from gradtx.transforms._rprop import ScaleByRpropState as ScaleByRpropState
from gradtx.transforms._rprop import scale_by_rprop as scale_by_rprop
from gradtx.transforms._scaling import ScaleByScheduleState as ScaleByScheduleState
from gradtx.transforms._scaling import scale as scale
from gradtx.transforms._scaling import scale_by_learning_rate as scale_by_learning_rate
from gradtx.transforms._scaling import scale_by_schedule as scale_by_schedule
from gradtx.transforms._scaling import scale_by_sign as scale_by_sign
from gradtx.transforms._sm3 import ScaleBySM3State as ScaleBySM3State
from gradtx.transforms._sm3 import scale_by_sm3 as scale_by_sm3
from gradtx.transforms._trust_ratio import scale_by_trust_ratio as scale_by_trust_ratio
from gradtx.transforms._unitwise import unitwise_clip as unitwise_clip
from gradtx.transforms._unitwise import unitwise_norm as unitwise_norm
from gradtx.wrappers import ApplyIfFiniteState as ApplyIfFiniteState
from gradtx.wrappers import (
    ConditionallyMaskState as ConditionallyMaskState,
)
from gradtx.wrappers import (
    ConditionallyTransformState as ConditionallyTransformState,
)
from gradtx.wrappers import ConditionFn as ConditionFn
from gradtx.wrappers import MaskedNode as MaskedNode
from gradtx.wrappers import MaskedState as MaskedState
from gradtx.wrappers import MonitorState as MonitorState

# Optax's ``optax.transforms`` also holds the combinators and wrappers; gradtx keeps one
# implementation of each in gradtx.core / gradtx.wrappers and re-exports it here. These
# imports must stay after every transforms submodule's: the wrappers import those.
from gradtx.wrappers import MultiSteps as MultiSteps
from gradtx.wrappers import MultiStepsState as MultiStepsState
from gradtx.wrappers import PartitionState as PartitionState
from gradtx.wrappers import (
    ShouldSkipUpdateFunction as ShouldSkipUpdateFunction,
)
from gradtx.wrappers import SnapshotState as SnapshotState
from gradtx.wrappers import apply_if_finite as apply_if_finite
from gradtx.wrappers import conditionally_mask as conditionally_mask
from gradtx.wrappers import (
    conditionally_transform as conditionally_transform,
)
from gradtx.wrappers import flatten as flatten
from gradtx.wrappers import freeze as freeze
from gradtx.wrappers import masked as masked
from gradtx.wrappers import measure_with_ema as measure_with_ema
from gradtx.wrappers import monitor as monitor
from gradtx.wrappers import partition as partition
from gradtx.wrappers import selective_transform as selective_transform
from gradtx.wrappers import skip_large_updates as skip_large_updates
from gradtx.wrappers import skip_not_finite as skip_not_finite
from gradtx.wrappers import snapshot as snapshot

__all__ = [
    "AdaptiveGradClipState",
    "AddDecayedWeightsState",
    "AddNoiseState",
    "ApplyIfFiniteState",
    "BacktrackingLinesearchInfo",
    "ClipByGlobalNormState",
    "ClipState",
    "ConditionFn",
    "ConditionallyMaskState",
    "ConditionallyTransformState",
    "EmaState",
    "FactoredState",
    "MaskedNode",
    "MaskedState",
    "MonitorState",
    "MultiSteps",
    "MultiStepsState",
    "NonNegativeParamsState",
    "PartitionState",
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
    "ShouldSkipUpdateFunction",
    "SnapshotState",
    "TraceState",
    "WeightDecaySchedule",
    "ZeroNansState",
    "ZoomLinesearchInfo",
    "adaptive_grad_clip",
    "add_decayed_weights",
    "add_noise",
    "apply_if_finite",
    "centralize",
    "chain",
    "clip",
    "clip_by_block_rms",
    "clip_by_global_norm",
    "conditionally_mask",
    "conditionally_transform",
    "ema",
    "flatten",
    "freeze",
    "keep_params_nonnegative",
    "masked",
    "measure_with_ema",
    "monitor",
    "named_chain",
    "normalize_by_update_norm",
    "partition",
    "per_example_global_norm_clip",
    "per_example_layer_norm_clip",
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
    "selective_transform",
    "skip_large_updates",
    "skip_not_finite",
    "snapshot",
    "trace",
    "unitwise_clip",
    "unitwise_norm",
    "value_and_grad_from_state",
    "zero_nans",
]
