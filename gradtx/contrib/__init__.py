"""Optax's contrib optimizers and the current ones: ``gradtx.contrib.X``.

Every name of ``optax.contrib`` with Optax's signatures, numbers and state structures;
where Optax departs from a paper's reference implementation, a documented argument of
the factory gives the reference algorithm. Beyond Optax: ``cautious`` and
``add_cautious_decayed_weights``, ``mars``, ``soap``, ``adam_mini``, ``shampoo`` (each
with its ``scale_by_*`` and state), ``adahessian``, ``kron`` (PSGD; each with its
``scale_by_*``), ``asam``
and ``scale_by_asam`` (ASAM's adversarial step), and as options of Optax's names:
``sophia(estimator="hutchinson" | "gnb")``, NorMuon (``muon(normuon=True)``, with
`NorMuonState`) and the Polar Express coefficients (``ns_coeffs="polar_express"``).
"""

from gradtx.contrib._acprop import acprop as acprop
from gradtx.contrib._acprop import scale_by_acprop as scale_by_acprop
from gradtx.contrib._adahessian import ScaleByAdaHessianState as ScaleByAdaHessianState
from gradtx.contrib._adahessian import adahessian as adahessian
from gradtx.contrib._adahessian import scale_by_adahessian as scale_by_adahessian
from gradtx.contrib._adam_mini import ScaleByAdamMiniState as ScaleByAdamMiniState
from gradtx.contrib._adam_mini import adam_mini as adam_mini
from gradtx.contrib._adam_mini import scale_by_adam_mini as scale_by_adam_mini
from gradtx.contrib._ademamix import ScaleByAdemamixState as ScaleByAdemamixState
from gradtx.contrib._ademamix import (
    ScaleBySimplifiedAdEMAMixState as ScaleBySimplifiedAdEMAMixState,
)
from gradtx.contrib._ademamix import ademamix as ademamix
from gradtx.contrib._ademamix import scale_by_ademamix as scale_by_ademamix
from gradtx.contrib._ademamix import scale_by_simplified_ademamix as scale_by_simplified_ademamix
from gradtx.contrib._ademamix import simplified_ademamix as simplified_ademamix
from gradtx.contrib._adopt import adopt as adopt
from gradtx.contrib._adopt import scale_by_adopt as scale_by_adopt
from gradtx.contrib._asam import asam as asam
from gradtx.contrib._asam import scale_by_asam as scale_by_asam
from gradtx.contrib._cautious import CautiousState as CautiousState
from gradtx.contrib._cautious import add_cautious_decayed_weights as add_cautious_decayed_weights
from gradtx.contrib._cautious import cautious as cautious
from gradtx.contrib._cocob import COCOBState as COCOBState
from gradtx.contrib._cocob import cocob as cocob
from gradtx.contrib._cocob import scale_by_cocob as scale_by_cocob
from gradtx.contrib._complex import SplitRealAndImaginaryState as SplitRealAndImaginaryState
from gradtx.contrib._complex import split_real_and_imaginary as split_real_and_imaginary
from gradtx.contrib._dog import DoGState as DoGState
from gradtx.contrib._dog import DoWGState as DoWGState
from gradtx.contrib._dog import dog as dog
from gradtx.contrib._dog import dowg as dowg
from gradtx.contrib._galore import GaLoreDimensionNumbers as GaLoreDimensionNumbers
from gradtx.contrib._galore import GaLoreState as GaLoreState
from gradtx.contrib._galore import galore as galore
from gradtx.contrib._galore import scale_by_galore as scale_by_galore
from gradtx.contrib._kron import ScaleByKronState as ScaleByKronState
from gradtx.contrib._kron import kron as kron
from gradtx.contrib._kron import scale_by_kron as scale_by_kron
from gradtx.contrib._madgrad import MadgradState as MadgradState
from gradtx.contrib._madgrad import madgrad as madgrad
from gradtx.contrib._madgrad import scale_by_madgrad as scale_by_madgrad
from gradtx.contrib._mars import ScaleByMarsState as ScaleByMarsState
from gradtx.contrib._mars import mars as mars
from gradtx.contrib._mars import scale_by_mars as scale_by_mars
from gradtx.contrib._mechanic import MechanicState as MechanicState
from gradtx.contrib._mechanic import mechanize as mechanize
from gradtx.contrib._momo import MomoAdamState as MomoAdamState
from gradtx.contrib._momo import MomoState as MomoState
from gradtx.contrib._momo import momo as momo
from gradtx.contrib._momo import momo_adam as momo_adam
from gradtx.contrib._muon import MuonDimensionNumbers as MuonDimensionNumbers
from gradtx.contrib._muon import MuonState as MuonState
from gradtx.contrib._muon import NorMuonState as NorMuonState
from gradtx.contrib._muon import muon as muon
from gradtx.contrib._muon import scale_by_muon as scale_by_muon
from gradtx.contrib._plateau import ReduceLROnPlateauState as ReduceLROnPlateauState
from gradtx.contrib._plateau import reduce_on_plateau as reduce_on_plateau
from gradtx.contrib._privacy import (
    DifferentiallyPrivateAggregateState as DifferentiallyPrivateAggregateState,
)
from gradtx.contrib._privacy import (
    differentially_private_aggregate as differentially_private_aggregate,
)
from gradtx.contrib._privacy import dpsgd as dpsgd
from gradtx.contrib._prodigy import DAdaptAdamWState as DAdaptAdamWState
from gradtx.contrib._prodigy import ProdigyState as ProdigyState
from gradtx.contrib._prodigy import dadapt_adamw as dadapt_adamw
from gradtx.contrib._prodigy import prodigy as prodigy
from gradtx.contrib._sam import NormalizeState as NormalizeState
from gradtx.contrib._sam import SAMState as SAMState
from gradtx.contrib._sam import normalize as normalize
from gradtx.contrib._sam import sam as sam
from gradtx.contrib._schedule_free import ScheduleFreeState as ScheduleFreeState
from gradtx.contrib._schedule_free import schedule_free as schedule_free
from gradtx.contrib._schedule_free import schedule_free_adamw as schedule_free_adamw
from gradtx.contrib._schedule_free import schedule_free_eval_params as schedule_free_eval_params
from gradtx.contrib._schedule_free import schedule_free_sgd as schedule_free_sgd
from gradtx.contrib._shampoo import ScaleByShampooState as ScaleByShampooState
from gradtx.contrib._shampoo import scale_by_shampoo as scale_by_shampoo
from gradtx.contrib._shampoo import shampoo as shampoo
from gradtx.contrib._soap import ScaleBySoapState as ScaleBySoapState
from gradtx.contrib._soap import scale_by_soap as scale_by_soap
from gradtx.contrib._soap import soap as soap
from gradtx.contrib._sophia import HutchinsonState as HutchinsonState
from gradtx.contrib._sophia import SophiaState as SophiaState
from gradtx.contrib._sophia import (
    hutchinson_estimator_diag_hessian as hutchinson_estimator_diag_hessian,
)
from gradtx.contrib._sophia import sophia as sophia

__all__ = [
    "COCOBState",
    "CautiousState",
    "DAdaptAdamWState",
    "DifferentiallyPrivateAggregateState",
    "DoGState",
    "DoWGState",
    "GaLoreDimensionNumbers",
    "GaLoreState",
    "HutchinsonState",
    "MadgradState",
    "MechanicState",
    "MomoAdamState",
    "MomoState",
    "MuonDimensionNumbers",
    "MuonState",
    "NorMuonState",
    "NormalizeState",
    "ProdigyState",
    "ReduceLROnPlateauState",
    "SAMState",
    "ScaleByAdaHessianState",
    "ScaleByAdamMiniState",
    "ScaleByAdemamixState",
    "ScaleByKronState",
    "ScaleByMarsState",
    "ScaleByShampooState",
    "ScaleBySimplifiedAdEMAMixState",
    "ScaleBySoapState",
    "ScheduleFreeState",
    "SophiaState",
    "SplitRealAndImaginaryState",
    "acprop",
    "adahessian",
    "adam_mini",
    "add_cautious_decayed_weights",
    "ademamix",
    "adopt",
    "asam",
    "cautious",
    "cocob",
    "dadapt_adamw",
    "differentially_private_aggregate",
    "dog",
    "dowg",
    "dpsgd",
    "galore",
    "hutchinson_estimator_diag_hessian",
    "kron",
    "madgrad",
    "mars",
    "mechanize",
    "momo",
    "momo_adam",
    "muon",
    "normalize",
    "prodigy",
    "reduce_on_plateau",
    "sam",
    "scale_by_acprop",
    "scale_by_adahessian",
    "scale_by_adam_mini",
    "scale_by_ademamix",
    "scale_by_adopt",
    "scale_by_asam",
    "scale_by_cocob",
    "scale_by_galore",
    "scale_by_kron",
    "scale_by_madgrad",
    "scale_by_mars",
    "scale_by_muon",
    "scale_by_shampoo",
    "scale_by_simplified_ademamix",
    "scale_by_soap",
    "schedule_free",
    "schedule_free_adamw",
    "schedule_free_eval_params",
    "schedule_free_sgd",
    "shampoo",
    "simplified_ademamix",
    "soap",
    "sophia",
    "split_real_and_imaginary",
]
