"""Optax's contrib optimizers and the current ones: ``gradtx.contrib.X``.

Every name of ``optax.contrib`` with Optax's signatures, numbers and state structures;
where Optax departs from a paper's reference implementation, a documented argument of
the factory gives the reference algorithm.
"""

from gradtx.contrib._muon import MuonDimensionNumbers as MuonDimensionNumbers
from gradtx.contrib._muon import MuonState as MuonState
from gradtx.contrib._muon import muon as muon
from gradtx.contrib._muon import scale_by_muon as scale_by_muon

__all__ = [
    "MuonDimensionNumbers",
    "MuonState",
    "muon",
    "scale_by_muon",
]
