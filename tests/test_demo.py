"""The demo, ``python -m gradtx``: tables, plots, options, progress."""

from __future__ import annotations

import importlib.util
import io
import re
import subprocess
import sys

import pytest

from gradtx import __main__ as demo

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_run_prints_the_tables_and_writes_the_plots(tmp_path, capsys):
    assert demo.main(["--quick", "--out", tmp_path]) == 0
    out = capsys.readouterr().out
    for name in ("rosenbrock", "beale", "saddle"):
        assert re.search(rf"^{name}: 150 steps", out, re.M), name
    for title in ("optimizer", "steps to tol", "final loss", "dist to min", "compile s"):
        assert title in out
    for opt in ("sgd (lr", "momentum (lr", "adam (lr"):
        assert out.count(opt) == 3
    # The MLP table: header, then rows "step lr loss grad-norm train-acc test-acc".
    assert "clip_by_global_norm(1.0), adamw(warmup_cosine_decay_schedule" in out
    mlp_rows = re.findall(r"^\s*(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$", out, re.M)
    assert mlp_rows[0][0] == "0" and mlp_rows[-1][0] == "200"
    first_loss, last_loss = float(mlp_rows[0][2]), float(mlp_rows[-1][2])
    assert last_loss < 0.2 * first_loss
    assert float(mlp_rows[-1][4]) > 90.0  # train accuracy, %
    if HAS_MATPLOTLIB:
        assert f"plots written to {tmp_path}" in out
        for name in ("rosenbrock", "beale", "saddle", "mlp"):
            assert (tmp_path / f"{name}.png").read_bytes()[:8] == PNG
    else:
        assert "plots skipped: matplotlib is not installed" in out
    assert re.search(r"^done in [0-9.]+ s$", out, re.M)


def test_momentum_escapes_the_saddle_before_sgd(capsys):
    """The numbers in the table are the landscape's, not decoration."""
    argv = ["--landscape", "saddle", "--optimizers", "sgd,momentum", "--steps", "120"]
    assert demo.main([*argv, "--no-plots", "--no-mlp"]) == 0
    out = capsys.readouterr().out
    sgd = re.search(r"^sgd \(lr 0\.01\)\s+(\S+)", out, re.M).group(1)
    momentum = re.search(r"^momentum \(lr 0\.01\)\s+(\S+)", out, re.M).group(1)
    assert sgd == "-" and int(momentum) < 120
    assert "plots skipped (--no-plots)" in out and "MLP" not in out


def test_without_matplotlib_the_plots_are_skipped(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    argv = ["--landscape", "beale", "--optimizers", "adam", "--steps", "5", "--no-mlp"]
    assert demo.main([*argv, "--out", tmp_path / "plots"]) == 0
    out = capsys.readouterr().out
    assert "plots skipped: matplotlib is not installed (pip install 'gradtx[notebooks]')" in out
    assert not (tmp_path / "plots").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--landscape", "everest"], "unknown landscape everest"),
        (["--optimizers", "adam,sgdd"], "unknown optimizer sgdd"),
        (["--steps", "0"], "--steps must be >= 1"),
    ],
)
def test_bad_options_exit_with_usage(argv, message, capsys):
    with pytest.raises(SystemExit) as err:
        demo.main(argv)
    assert err.value.code == 2
    assert message in capsys.readouterr().err


def test_every_optimizer_has_a_learning_rate_for_every_landscape():
    for landscape in demo.LANDSCAPES:
        assert set(demo.LEARNING_RATES[landscape]) == set(demo.OPTIMIZERS), landscape
    assert set(demo.DEFAULT_LANDSCAPES) <= set(demo.LANDSCAPES)
    assert set(demo.DEFAULT_OPTIMIZERS) <= set(demo.OPTIMIZERS)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_redraws_a_bar_on_a_terminal_and_stays_quiet_elsewhere():
    tty = _Terminal()
    progress = demo._Progress(2, stream=tty, width=4)
    progress.tick("first")
    progress.tick("second")
    progress.close()
    text = tty.getvalue()
    assert "\r[##--] 1/2" in text and "\r[####] 2/2" in text and "second" in text
    log = io.StringIO()
    progress = demo._Progress(2, stream=log)
    progress.tick("first")
    progress.note("a note")
    assert log.getvalue() == "a note\n"


def test_help_in_a_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "gradtx", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for option in ("--landscape", "--optimizers", "--steps", "--out", "--no-plots", "--quick"):
        assert option in result.stdout
    assert "usage: python -m gradtx" in result.stdout
