"""The benchmark scripts run in ``--quick`` mode, so they cannot rot (no timing checks)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

# Slow (CI runs it): the benchmark scripts in --quick mode.
pytestmark = pytest.mark.slow

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    """Import ``benchmarks/<name>.py`` as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_bench_memory_quick(capsys):
    rows = _load("bench_memory").main(["--quick"])
    out = capsys.readouterr().out
    assert "backend" in out and "bytes/param" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("quantized_state(adam) "))
    ratio = float(line.split()[-1])
    assert ratio <= 0.3, line
    by_label = {label: (per_param, r) for label, _, per_param, r in rows}
    assert by_label["adam"] == (pytest.approx(8.0, rel=1e-4), 1.0)
    assert by_label["adam(mu=bf16, nu=bf16)"] == pytest.approx((4.0, 0.5), rel=1e-4)
    assert by_label["adafactor (factored)"][1] < 0.05


def test_bench_step_quick(capsys):
    out_rows = _load("bench_step").main(["--quick"])
    out = capsys.readouterr().out
    assert "backend" in out and "triad a=b+s*c" in out
    for tree in ("A", "B", "C"):
        for label in ("optax", "gradtx", "gradtx-flat", "gradtx-packed"):
            for suffix in ("", " +donate"):
                seconds = out_rows["rows"][(tree, "adamw_clip", label + suffix)]
                assert 0.0 < seconds < 60.0
        assert out_rows["triad"][tree] > 0.0
    assert out_rows["params"] == {"A": 33632, "B": 5000, "C": 10224}
    # torch is optional: either its rows or the note that it is missing.
    assert "torch not installed" in out or "torch fused" in out
    assert "summary (adamw_clip)" in out and "donate / no donate" in out


def test_bench_step_only_filters(capsys):
    out_rows = _load("bench_step").main(["--quick", "--only", "C,sgd_momentum,gradtx"])
    capsys.readouterr()
    assert set(out_rows["rows"]) == {
        ("C", "sgd_momentum", "gradtx"),
        ("C", "sgd_momentum", "gradtx +donate"),
    }


def test_bench_step_tree_shapes_match_the_issue():
    bench = _load("bench_step")
    a = bench.tree_shapes("A", quick=False)
    b = bench.tree_shapes("B", quick=False)
    c = bench.tree_shapes("C", quick=False)
    count = lambda shapes: sum(int(np.prod(s)) for s in shapes)  # noqa: E731
    assert len(a) == 146 and 25_000_000 <= count(a) <= 25_400_000
    assert len(b) == 2000 and count(b) == 2_000_000
    assert len(c) == 6 and count(c) == 10_224


def test_bench_compile_quick(capsys):
    bench = _load("bench_compile")
    results = bench.main(["--quick"])
    out = capsys.readouterr().out
    assert "compile s" in out and "peak RSS MB" in out
    assert bench.IMPLS == ("optax", "gradtx", "gradtx-flat", "gradtx-packed", "floor")
    assert set(results) == {(impl, leaves) for impl in bench.IMPLS for leaves in (10, 100)}
    for r in results.values():
        assert r is not None and "error" not in r, r
        assert r["compile_s"] > 0.0 and r["peak_rss_mb"] > 0.0


def test_bench_fused_cpu_quick(capsys):
    out = _load("bench_fused_cpu").main(["--quick"])
    text = capsys.readouterr().out
    assert "triad a=b+s*c" in text and "gradtx packed +donate" in out["rows"]
    assert out["params"] == 33632
    if out["kernel"] == "ok":  # a C compiler with OpenMP is on PATH (it is in CI)
        assert out["max_abs_diff"] < 1e-6, out["max_abs_diff"]
        assert out["rows"]["c fused"] > 0.0
    else:
        assert "c fused: unavailable" in text


def test_bench_lr_finder_quick(capsys):
    bench = _load("bench_lr_finder")
    out = bench.main(["--quick"])
    text = capsys.readouterr().out
    assert "best grid lr" in text and "default rule" in text
    assert set(out) == {(p, o) for p in bench.QUICK for o in bench.OPTIMIZERS}
    for scores in out.values():
        assert set(scores["rules"]) == {"steep", "valley", "minimum", "lagfree_minimum"}
        for row in scores["rules"].values():
            assert row["lr"] > 0.0 and row["lr_ratio"] > 0.0 and row["loss_ratio"] >= 0.0


@pytest.mark.slow
def test_bench_second_order_quick(capsys):
    out = _load("bench_second_order").main(["--quick", "--repeats", "1"])
    text = capsys.readouterr().out
    assert "lanczos 20 steps" in text and "gradtx ms" in text
    assert {r["name"] for r in out["products"]} >= {"value_and_grad", "dense hessian + eigh"}
    tasks = {(r["problem"], r["task"]) for r in out["peers"]}
    assert len(tasks) == 11, tasks
    for row in out["peers"]:
        assert row["gradtx_s"] > 0.0
        for seconds, ratio in row["peers"].values():
            assert seconds > 0.0 and ratio > 0.0
    # The peers are optional: either their rows or the note that they are missing.
    peers = {name for row in out["peers"] for name in row["peers"]}
    assert "matfree" in peers or "matfree" in text
    assert "PyHessian" in peers or "PyHessian" in text
