"""Registry entries for the lbfgs family (see tests/registry.py).

The line searches need ``value=``, ``grad=`` and ``value_fn=`` (``extra="value_fn"``).
A bare line search would scale the incoming gradient (an ascent direction), so each is
registered behind ``scale(-1.0)``: gradient descent with a line search, which must lower
the quadratic.
"""

import gradtx
from tests.registry import Entry


def _descent_then(linesearch):
    def factory(**kwargs):
        return gradtx.chain(gradtx.scale(-1.0), linesearch(**kwargs))

    return factory


ENTRIES: list[Entry] = [
    Entry("scale_by_lbfgs", gradtx.scale_by_lbfgs, {}, needs_params=True, optax="scale_by_lbfgs"),
    Entry(
        "scale_by_lbfgs_memory_3_unscaled",
        gradtx.scale_by_lbfgs,
        {"memory_size": 3, "scale_init_precond": False},
        needs_params=True,
        optax="scale_by_lbfgs",
    ),
    Entry(
        "lbfgs",
        gradtx.lbfgs,
        {},
        extra="value_fn",
        needs_params=True,
        is_optimizer=True,
        optax="lbfgs",
    ),
    Entry(
        "lbfgs_learning_rate_no_linesearch",
        gradtx.lbfgs,
        {"learning_rate": 0.5, "memory_size": 4, "linesearch": None},
        needs_params=True,
        is_optimizer=True,
        optax="lbfgs",
    ),
    # The line searches are registered under their public names, behind scale(-1.0).
    Entry(
        "scale_by_zoom_linesearch",
        _descent_then(gradtx.scale_by_zoom_linesearch),
        {"max_linesearch_steps": 15},
        extra="value_fn",
        needs_params=True,
        is_optimizer=True,
        optax="scale_by_zoom_linesearch",
    ),
    Entry(
        "scale_by_backtracking_linesearch",
        _descent_then(gradtx.scale_by_backtracking_linesearch),
        {"max_backtracking_steps": 15, "store_grad": True},
        extra="value_fn",
        needs_params=True,
        is_optimizer=True,
        optax="scale_by_backtracking_linesearch",
    ),
]
