"""gradtx: composable gradient transformations for JAX.

Every transform, optimizer, wrapper and schedule is importable flat (``gradtx.adamw``).
``gradtx.tree``, ``gradtx.losses``, ``gradtx.second_order``, ``gradtx.landscapes``,
``gradtx.experiments``, ``gradtx.sharding``, ``gradtx.checkpoint`` and ``gradtx.tree_utils``
(Optax's ``tree_*`` names for ``gradtx.tree``) are namespaces;
all but ``tree`` are imported on first use.
"""

import importlib

from gradtx import core, optimizers, schedules, transforms, tree, wrappers
from gradtx.core import *  # noqa: F403
from gradtx.optimizers import *  # noqa: F403
from gradtx.schedules import *  # noqa: F403
from gradtx.transforms import *  # noqa: F403
from gradtx.tree import map_params as tree_map_params  # Optax's top-level alias
from gradtx.wrappers import *  # noqa: F403

__version__ = "0.1.0"

_LAZY_NAMESPACES = (
    "checkpoint",
    "experiments",
    "landscapes",
    "losses",
    "second_order",
    "sharding",
    "tree_utils",
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
        "tree_map_params",
        "wrappers",
        *_LAZY_NAMESPACES,
    }
)
