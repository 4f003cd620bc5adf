"""Standalone loss functions (Optax-compatible names, arguments and numbers).

Every loss returns unreduced values (one per element, row or sequence, as documented);
reduce them with ``.mean()`` or ``.sum()``. As in Optax, ``ntxent`` and
``multiclass_generalized_dice_loss`` return a scalar and ``ranking_softmax_loss``
reduces with its ``reduce_fn``. Shapes that would silently broadcast to a
shape none of the inputs has raise a ``ValueError``. ``perplexity``,
``absolute_error`` and ``contrastive_loss`` have no Optax counterpart.
"""

from gradtx.losses._classification import hinge_loss as hinge_loss
from gradtx.losses._classification import perplexity as perplexity
from gradtx.losses._classification import poly_loss_cross_entropy as poly_loss_cross_entropy
from gradtx.losses._classification import safe_softmax_cross_entropy as safe_softmax_cross_entropy
from gradtx.losses._classification import (
    sigmoid_binary_cross_entropy as sigmoid_binary_cross_entropy,
)
from gradtx.losses._classification import sigmoid_focal_loss as sigmoid_focal_loss
from gradtx.losses._classification import softmax_cross_entropy as softmax_cross_entropy
from gradtx.losses._classification import (
    softmax_cross_entropy_with_integer_labels as softmax_cross_entropy_with_integer_labels,
)
from gradtx.losses._fenchel_young import make_fenchel_young_loss as make_fenchel_young_loss
from gradtx.losses._fenchel_young import multiclass_sparsemax_loss as multiclass_sparsemax_loss
from gradtx.losses._fenchel_young import sparsemax_loss as sparsemax_loss
from gradtx.losses._margin import multiclass_hinge_loss as multiclass_hinge_loss
from gradtx.losses._margin import multiclass_perceptron_loss as multiclass_perceptron_loss
from gradtx.losses._margin import perceptron_loss as perceptron_loss
from gradtx.losses._ranking import ranking_softmax_loss as ranking_softmax_loss
from gradtx.losses._regression import absolute_error as absolute_error
from gradtx.losses._regression import huber_loss as huber_loss
from gradtx.losses._regression import l2_loss as l2_loss
from gradtx.losses._regression import log_cosh as log_cosh
from gradtx.losses._regression import squared_error as squared_error
from gradtx.losses._segmentation import binary_dice_loss as binary_dice_loss
from gradtx.losses._segmentation import dice_loss as dice_loss
from gradtx.losses._segmentation import (
    multiclass_generalized_dice_loss as multiclass_generalized_dice_loss,
)
from gradtx.losses._self_supervised import ntxent as ntxent
from gradtx.losses._sequence import ctc_loss as ctc_loss
from gradtx.losses._sequence import ctc_loss_with_forward_probs as ctc_loss_with_forward_probs
from gradtx.losses._similarity import contrastive_loss as contrastive_loss
from gradtx.losses._similarity import convex_kl_divergence as convex_kl_divergence
from gradtx.losses._similarity import cosine_distance as cosine_distance
from gradtx.losses._similarity import cosine_similarity as cosine_similarity
from gradtx.losses._similarity import generalized_kl_divergence as generalized_kl_divergence
from gradtx.losses._similarity import kl_divergence as kl_divergence
from gradtx.losses._similarity import (
    kl_divergence_with_log_targets as kl_divergence_with_log_targets,
)
from gradtx.losses._similarity import triplet_margin_loss as triplet_margin_loss
from gradtx.losses._smoothing import smooth_labels as smooth_labels

__all__ = [
    "absolute_error",
    "binary_dice_loss",
    "contrastive_loss",
    "convex_kl_divergence",
    "cosine_distance",
    "cosine_similarity",
    "ctc_loss",
    "ctc_loss_with_forward_probs",
    "dice_loss",
    "generalized_kl_divergence",
    "hinge_loss",
    "huber_loss",
    "kl_divergence",
    "kl_divergence_with_log_targets",
    "l2_loss",
    "log_cosh",
    "make_fenchel_young_loss",
    "multiclass_generalized_dice_loss",
    "multiclass_hinge_loss",
    "multiclass_perceptron_loss",
    "multiclass_sparsemax_loss",
    "ntxent",
    "perceptron_loss",
    "perplexity",
    "poly_loss_cross_entropy",
    "ranking_softmax_loss",
    "safe_softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "smooth_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "sparsemax_loss",
    "squared_error",
    "triplet_margin_loss",
]
