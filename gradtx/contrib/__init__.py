"""Optax's contrib optimizers and the current ones: ``gradtx.contrib.X``.

Every name of ``optax.contrib`` with Optax's signatures, numbers and state structures;
where Optax departs from a paper's reference implementation, a documented argument of
the factory gives the reference algorithm. Beyond Optax: ``cautious`` and
``add_cautious_decayed_weights``, ``mars``, ``soap``, ``adam_mini``, ``shampoo`` (each
with its ``scale_by_*`` and state) and ``scale_by_asam`` (ASAM's adversarial step).
"""

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
from gradtx.contrib._asam import scale_by_asam as scale_by_asam
from gradtx.contrib._cautious import CautiousState as CautiousState
from gradtx.contrib._cautious import add_cautious_decayed_weights as add_cautious_decayed_weights
from gradtx.contrib._cautious import cautious as cautious
from gradtx.contrib._mars import ScaleByMarsState as ScaleByMarsState
from gradtx.contrib._mars import mars as mars
from gradtx.contrib._mars import scale_by_mars as scale_by_mars
from gradtx.contrib._muon import MuonDimensionNumbers as MuonDimensionNumbers
from gradtx.contrib._muon import MuonState as MuonState
from gradtx.contrib._muon import muon as muon
from gradtx.contrib._muon import scale_by_muon as scale_by_muon
from gradtx.contrib._prodigy import DAdaptAdamWState as DAdaptAdamWState
from gradtx.contrib._prodigy import ProdigyState as ProdigyState
from gradtx.contrib._prodigy import dadapt_adamw as dadapt_adamw
from gradtx.contrib._prodigy import prodigy as prodigy
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

__all__ = [
    "CautiousState",
    "DAdaptAdamWState",
    "MuonDimensionNumbers",
    "MuonState",
    "ProdigyState",
    "ScaleByAdamMiniState",
    "ScaleByAdemamixState",
    "ScaleByMarsState",
    "ScaleByShampooState",
    "ScaleBySimplifiedAdEMAMixState",
    "ScaleBySoapState",
    "ScheduleFreeState",
    "adam_mini",
    "add_cautious_decayed_weights",
    "ademamix",
    "adopt",
    "cautious",
    "dadapt_adamw",
    "mars",
    "muon",
    "prodigy",
    "scale_by_adam_mini",
    "scale_by_ademamix",
    "scale_by_adopt",
    "scale_by_asam",
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
]
