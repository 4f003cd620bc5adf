"""Run Optax 0.2.8's own test files against gradtx and report what gradtx breaks.

Each chosen ``*_test.py`` of the installed Optax package (or of an unpacked Optax source
distribution, ``--optax-root``) runs under pytest with every public Optax name that
gradtx also has resolved to gradtx's object (the plugin ``tests/optax_conformance/_hook.py``),
and, when a test fails or is skipped there (or with ``--all-runs``), once more as it is,
with Optax.
The report lists, per file, the tests that pass with Optax and fail with gradtx. Not
collected by the default test run (the file name matches no test pattern); it is slow, so
pick files:

    PYTHONPATH=$PWD python tests/optax_conformance/run_optax_tests.py \\
        tree_utils/_tree_math_test.py schedules/_schedule_test.py --json out.json

With no file argument every Optax test file is run (hours on 2 cores). ``-k`` is passed
on to pytest. The runs use JAX's default (standard) promotion, as Optax's tests expect,
and none of gradtx's own ``conftest.py`` settings.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

REPO = pathlib.Path(__file__).resolve().parents[2]


def optax_root() -> pathlib.Path:
    import importlib.util

    spec = importlib.util.find_spec("optax")
    if spec is None or spec.origin is None:
        raise SystemExit("optax is not installed (pip install optax==0.2.8)")
    return pathlib.Path(spec.origin).parent


def outcomes(junit: pathlib.Path) -> dict[str, str]:
    """``{test id: passed | failed | skipped}`` from a JUnit XML report."""
    if not junit.exists():
        return {}
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            out[test_id] = "failed"
        elif "skipped" in kinds:
            out[test_id] = "skipped"
        else:
            out[test_id] = "passed"
    return out


def run_file(path: pathlib.Path, with_gradtx: bool, args, workdir: pathlib.Path):
    """One pytest run of ``path``; returns (outcomes, seconds, the failure messages)."""
    tag = "gradtx" if with_gradtx else "optax"
    junit = workdir / f"{path.stem}.{tag}.xml"
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["GRADTX_CONFORMANCE"] = "1" if with_gradtx else "0"
    env["GRADTX_CONFORMANCE_NAMES"] = str(workdir / "replaced_names.txt")
    env.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    cmd = [sys.executable, "-m", "pytest", str(path), "-q", "-c", str(ini)]
    cmd += ["--rootdir", str(workdir), "--import-mode=append", "--noconftest"]
    cmd += ["-p", "no:cacheprovider", "-p", "tests.optax_conformance._hook"]
    cmd += [f"--junitxml={junit}", "-o", "junit_family=xunit1"]
    if args.k:
        cmd += ["-k", args.k]
    start = time.perf_counter()
    try:
        subprocess.run(cmd, env=env, cwd=workdir, capture_output=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        pass
    seconds = time.perf_counter() - start
    messages = {}
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            for child in case:
                if child.tag in ("failure", "error"):
                    text = (child.get("message") or "").splitlines()
                    messages[f"{case.get('classname')}::{case.get('name')}"] = (
                        text[0][:200] if text else child.tag
                    )
    return outcomes(junit), seconds, messages


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="test files relative to the optax package")
    parser.add_argument("--optax-root", type=pathlib.Path, default=None)
    parser.add_argument("-k", default=None, help="pytest -k expression")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="write the report")
    parser.add_argument(
        "--all-runs",
        action="store_true",
        help="also run a file with Optax when every test passed with gradtx (its counts then "
        "are Optax's own; by default such a file's Optax counts repeat gradtx's)",
    )
    args = parser.parse_args(argv)

    root = args.optax_root or optax_root()
    files = [root / f for f in args.files] or sorted(root.rglob("*_test.py"))
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        for path in files:
            ours, t_gradtx, messages = run_file(path, True, args, workdir)
            # a test skipped with gradtx may pass with Optax (a skip condition that reads
            # gradtx's objects): that needs Optax's run as much as a failure does
            if args.all_runs or any(o != "passed" for o in ours.values()) or not ours:
                theirs, t_optax, _ = run_file(path, False, args, workdir)
            else:  # everything passed with gradtx: Optax's run cannot add a broken test
                theirs, t_optax = dict(ours), 0.0
            broken = sorted(
                t for t, o in theirs.items() if o == "passed" and ours.get(t) != "passed"
            )
            entry = {
                "tests": len(theirs),
                "pass_with_optax": sum(o == "passed" for o in theirs.values()),
                "pass_with_gradtx": sum(o == "passed" for o in ours.values()),
                "fail_with_gradtx_only": {
                    t: messages.get(t, ours.get(t, "missing")) for t in broken
                },
                "seconds": [round(t_optax, 1), round(t_gradtx, 1)],
            }
            name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
            report[name] = entry
            print(
                f"{name}: {entry['tests']} tests, {entry['pass_with_optax']} pass with Optax, "
                f"{entry['pass_with_gradtx']} with gradtx, {len(broken)} fail only with "
                f"gradtx ({entry['seconds'][0]} s / {entry['seconds'][1]} s)",
                flush=True,
            )
            for t in broken:
                print(f"    {t}: {entry['fail_with_gradtx_only'][t]}", flush=True)
        names = workdir / "replaced_names.txt"
        replaced = names.read_text().split("\n") if names.exists() else []
    if args.json:
        args.json.write_text(json.dumps({"replaced_names": replaced, "files": report}, indent=1))
    print(f"{len(replaced)} public Optax names resolved to gradtx's objects")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
