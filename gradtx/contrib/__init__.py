"""Optax's contrib optimizers and the current ones: ``gradtx.contrib.X``.

Every name of ``optax.contrib`` with Optax's signatures, numbers and state structures;
where Optax departs from a paper's reference implementation, a documented argument of
the factory gives the reference algorithm.
"""

from gradtx.contrib._muon import MuonDimensionNumbers as MuonDimensionNumbers
from gradtx.contrib._muon import MuonState as MuonState
from gradtx.contrib._muon import muon as muon
from gradtx.contrib._muon import scale_by_muon as scale_by_muon
from gradtx.contrib._schedule_free import ScheduleFreeState as ScheduleFreeState
from gradtx.contrib._schedule_free import schedule_free as schedule_free
from gradtx.contrib._schedule_free import schedule_free_adamw as schedule_free_adamw
from gradtx.contrib._schedule_free import schedule_free_eval_params as schedule_free_eval_params
from gradtx.contrib._schedule_free import schedule_free_sgd as schedule_free_sgd

__all__ = [
    "MuonDimensionNumbers",
    "MuonState",
    "ScheduleFreeState",
    "muon",
    "scale_by_muon",
    "schedule_free",
    "schedule_free_adamw",
    "schedule_free_eval_params",
    "schedule_free_sgd",
]
