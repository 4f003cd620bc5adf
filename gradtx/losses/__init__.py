"""Standalone loss functions (Optax-compatible names, arguments and numbers).

Every loss returns unreduced values (one per element, row or sequence, as documented);
reduce them with ``.mean()`` or ``.sum()``. Shapes that would silently broadcast to a
shape none of the inputs has raise a ``ValueError``. ``perplexity``,
``absolute_error`` and ``contrastive_loss`` have no Optax counterpart.
"""

from gradtx.losses._classification import hinge_loss as hinge_loss
from gradtx.losses._classification import perplexity as perplexity
from gradtx.losses._classification import (
    sigmoid_binary_cross_entropy as sigmoid_binary_cross_entropy,
)
from gradtx.losses._classification import sigmoid_focal_loss as sigmoid_focal_loss
from gradtx.losses._classification import softmax_cross_entropy as softmax_cross_entropy
from gradtx.losses._classification import (
    softmax_cross_entropy_with_integer_labels as softmax_cross_entropy_with_integer_labels,
)
from gradtx.losses._regression import absolute_error as absolute_error
from gradtx.losses._regression import huber_loss as huber_loss
from gradtx.losses._regression import l2_loss as l2_loss
from gradtx.losses._regression import log_cosh as log_cosh
from gradtx.losses._regression import squared_error as squared_error
from gradtx.losses._segmentation import dice_loss as dice_loss
from gradtx.losses._sequence import ctc_loss as ctc_loss
from gradtx.losses._sequence import ctc_loss_with_forward_probs as ctc_loss_with_forward_probs
from gradtx.losses._similarity import contrastive_loss as contrastive_loss
from gradtx.losses._similarity import cosine_distance as cosine_distance
from gradtx.losses._similarity import cosine_similarity as cosine_similarity
from gradtx.losses._similarity import kl_divergence as kl_divergence
from gradtx.losses._similarity import triplet_margin_loss as triplet_margin_loss

__all__ = [
    "absolute_error",
    "contrastive_loss",
    "cosine_distance",
    "cosine_similarity",
    "ctc_loss",
    "ctc_loss_with_forward_probs",
    "dice_loss",
    "hinge_loss",
    "huber_loss",
    "kl_divergence",
    "l2_loss",
    "log_cosh",
    "perplexity",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "squared_error",
    "triplet_margin_loss",
]
