"""``gradtx.contrib.reduce_on_plateau`` is gradtx's own `gradtx.schedules.reduce_on_plateau`
(one implementation, re-exported here at Optax's path)."""

from gradtx.schedules import ReduceLROnPlateauState, reduce_on_plateau

__all__ = ["ReduceLROnPlateauState", "reduce_on_plateau"]
