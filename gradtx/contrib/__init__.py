"""Optax's contrib optimizers and the current ones: ``gradtx.contrib.X``.

Every name of ``optax.contrib`` with Optax's signatures, numbers and state structures;
where Optax departs from a paper's reference implementation, a documented argument of
the factory gives the reference algorithm.
"""

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
from gradtx.contrib._complex import SplitRealAndImaginaryState as SplitRealAndImaginaryState
from gradtx.contrib._complex import split_real_and_imaginary as split_real_and_imaginary
from gradtx.contrib._galore import GaLoreDimensionNumbers as GaLoreDimensionNumbers
from gradtx.contrib._galore import GaLoreState as GaLoreState
from gradtx.contrib._galore import galore as galore
from gradtx.contrib._galore import scale_by_galore as scale_by_galore
from gradtx.contrib._momo import MomoAdamState as MomoAdamState
from gradtx.contrib._momo import MomoState as MomoState
from gradtx.contrib._momo import momo as momo
from gradtx.contrib._momo import momo_adam as momo_adam
from gradtx.contrib._muon import MuonDimensionNumbers as MuonDimensionNumbers
from gradtx.contrib._muon import MuonState as MuonState
from gradtx.contrib._muon import muon as muon
from gradtx.contrib._muon import scale_by_muon as scale_by_muon
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
from gradtx.contrib._schedule_free import ScheduleFreeState as ScheduleFreeState
from gradtx.contrib._schedule_free import schedule_free as schedule_free
from gradtx.contrib._schedule_free import schedule_free_adamw as schedule_free_adamw
from gradtx.contrib._schedule_free import schedule_free_eval_params as schedule_free_eval_params
from gradtx.contrib._schedule_free import schedule_free_sgd as schedule_free_sgd

__all__ = [
    "DAdaptAdamWState",
    "DifferentiallyPrivateAggregateState",
    "GaLoreDimensionNumbers",
    "GaLoreState",
    "MomoAdamState",
    "MomoState",
    "MuonDimensionNumbers",
    "MuonState",
    "ProdigyState",
    "ScaleByAdemamixState",
    "ScaleBySimplifiedAdEMAMixState",
    "ScheduleFreeState",
    "SplitRealAndImaginaryState",
    "ademamix",
    "adopt",
    "dadapt_adamw",
    "differentially_private_aggregate",
    "dpsgd",
    "galore",
    "momo",
    "momo_adam",
    "muon",
    "prodigy",
    "scale_by_ademamix",
    "scale_by_adopt",
    "scale_by_galore",
    "scale_by_muon",
    "scale_by_simplified_ademamix",
    "schedule_free",
    "schedule_free_adamw",
    "schedule_free_eval_params",
    "schedule_free_sgd",
    "simplified_ademamix",
    "split_real_and_imaginary",
]
