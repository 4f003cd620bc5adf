"""gradtx: composable gradient transformations for JAX.

Every transform, optimizer, wrapper and schedule is importable flat (``gradtx.adamw``).
``gradtx.tree``, ``gradtx.losses``, ``gradtx.second_order``, ``gradtx.landscapes``,
``gradtx.experiments``, ``gradtx.sharding``, ``gradtx.checkpoint``, ``gradtx.projections``,
``gradtx.assignment``, ``gradtx.perturbations``, ``gradtx.microbatching``, ``gradtx.contrib``
and ``gradtx.tree_utils`` (Optax's ``tree_*`` names for ``gradtx.tree``) are namespaces; all
but ``tree`` (and ``losses``, whose common losses Optax also exposes at the top level) are
imported on first use.
"""

import importlib

from gradtx import core, optimizers, schedules, transforms, tree, wrappers
from gradtx.core import *  # noqa: F403

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
from gradtx.optimizers import *  # noqa: F403
from gradtx.schedules import *  # noqa: F403
from gradtx.transforms import *  # noqa: F403
from gradtx.tree import bias_correction as bias_correction
from gradtx.tree import map_params as tree_map_params
from gradtx.tree import update_infinity_moment as update_infinity_moment
from gradtx.tree import update_moment as update_moment
from gradtx.tree import update_moment_per_elem_norm as update_moment_per_elem_norm
from gradtx.wrappers import *  # noqa: F403

__version__ = "0.1.0"

_LAZY_NAMESPACES = (
    "assignment",
    "checkpoint",
    "contrib",
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

_LOSS_ALIASES = (
    "convex_kl_divergence",
    "cosine_distance",
    "cosine_similarity",
    "ctc_loss",
    "ctc_loss_with_forward_probs",
    "generalized_kl_divergence",
    "hinge_loss",
    "huber_loss",
    "kl_divergence",
    "l2_loss",
    "log_cosh",
    "ntxent",
    "safe_softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "smooth_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "squared_error",
)


def __getattr__(name: str):
    if name in _LAZY_NAMESPACES:
        return importlib.import_module(f"gradtx.{name}")
    raise AttributeError(f"module 'gradtx' has no attribute {name!r}")


__all__ = sorted(
    {
        *core.__all__,
        *optimizers.__all__,
        *schedules.__all__,
        *transforms.__all__,
        *wrappers.__all__,
        "core",
        "optimizers",
        "schedules",
        "transforms",
        "tree",
        "wrappers",
        *_LAZY_NAMESPACES,
        *_LOSS_ALIASES,
        "microbatch",
        # Optax's top-level names for tree helpers (one implementation, in gradtx.tree)
        "bias_correction",
        "tree_map_params",
        "update_infinity_moment",
        "update_moment",
        "update_moment_per_elem_norm",
    }
)
