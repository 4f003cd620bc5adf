"""Run a module or script of this repository in a fresh Python process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(args: list[str], *, devices: int = 1, timeout: float = 300.0, env=None) -> str:
    """Run ``python *args`` from the repository root with ``devices`` forced CPU devices.

    Returns the standard output; raises ``AssertionError`` with both streams on failure.
    """
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        **(env or {}),
    }
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout
