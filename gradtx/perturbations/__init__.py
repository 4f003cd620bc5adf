"""Perturbed (Monte-Carlo smoothed) functions (Optax's ``optax.perturbations``)."""

from gradtx.perturbations._perturbed import Gumbel as Gumbel
from gradtx.perturbations._perturbed import Normal as Normal
from gradtx.perturbations._perturbed import make_perturbed_fun as make_perturbed_fun

__all__ = ["Gumbel", "Normal", "make_perturbed_fun"]
