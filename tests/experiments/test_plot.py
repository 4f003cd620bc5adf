"""Plots: drawn with matplotlib when present, a clear ImportError when absent."""

from __future__ import annotations

import sys

import pytest

import gradtx
from gradtx import experiments, landscapes

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow

L = landscapes.himmelblau()
TRAJ = {
    "gd": experiments.run(gradtx.scale(-0.01), L.fn, L.x0, 40),
    "adam": experiments.run(gradtx.adam(0.1), L.fn, L.x0, 40),
}


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_trajectories_and_losses_write_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    ax = experiments.plot_trajectories(TRAJ, L, resolution=40)
    assert ax.get_title() == "himmelblau"
    assert ax.get_xlim() == L.bounds[0] and ax.get_ylim() == L.bounds[1]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"gd", "adam", "minimum", "saddle", "maximum"} <= set(labels)
    ax.figure.savefig(tmp_path / "paths.png")
    ax = experiments.plot_losses(TRAJ, min_value=L.min_value)
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "loss - min"
    assert len(ax.get_lines()) == 2
    ax.figure.savefig(tmp_path / "losses.png")
    assert _is_png(tmp_path / "paths.png") and _is_png(tmp_path / "losses.png")


def test_plots_accept_axes_a_comparison_and_one_trajectory():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    fig = Figure()
    left, right = fig.subplots(1, 2)
    result = experiments.compare({"gd": gradtx.scale(-0.01)}, L, 20)
    assert experiments.plot_trajectories(result, L, ax=left, resolution=20) is left
    assert experiments.plot_losses(TRAJ["gd"], ax=right) is right
    saddle = landscapes.saddle()
    escape = experiments.run(gradtx.scale(-0.1), saddle.fn, saddle.x0, 30)
    ax = experiments.plot_losses({"gd": escape}, min_value=saddle.min_value)
    assert ax.get_yscale() == "linear" and ax.get_ylabel() == "loss"  # losses go negative


def test_plot_argument_errors():
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="dim=3"):
        experiments.plot_trajectories(TRAJ, landscapes.rastrigin(dim=3))
    with pytest.raises(TypeError, match="trajectories must be"):
        experiments.plot_losses([1, 2])


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"gradtx\[notebooks\]"):
        experiments.plot_losses(TRAJ)
    with pytest.raises(ImportError, match="needs matplotlib"):
        experiments.plot_trajectories(TRAJ, L)
