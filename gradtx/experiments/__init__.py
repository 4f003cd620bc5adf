"""Compiled optimisation experiments: trajectories, comparisons and plots.

`run` executes an optimizer on a function as one ``lax.scan`` and returns the whole
`Trajectory`; `compare` runs several optimizers on a `gradtx.landscapes.Landscape` and
returns a printable table (laid out by `format_table`); `plot_trajectories` and
`plot_losses` draw them (they need matplotlib, from the ``notebooks`` extra).
"""

from gradtx.experiments._compare import Comparison as Comparison
from gradtx.experiments._compare import ComparisonRow as ComparisonRow
from gradtx.experiments._compare import compare as compare
from gradtx.experiments._compare import format_table as format_table
from gradtx.experiments._compare import steps_to_tolerance as steps_to_tolerance
from gradtx.experiments._plot import plot_losses as plot_losses
from gradtx.experiments._plot import plot_trajectories as plot_trajectories
from gradtx.experiments._run import Trajectory as Trajectory
from gradtx.experiments._run import compile_run as compile_run
from gradtx.experiments._run import run as run

__all__ = [
    "Comparison",
    "ComparisonRow",
    "Trajectory",
    "compare",
    "compile_run",
    "format_table",
    "plot_losses",
    "plot_trajectories",
    "run",
    "steps_to_tolerance",
]
