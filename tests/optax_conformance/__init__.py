"""Optax 0.2.8's own test files run against gradtx (see ``run_optax_tests.py``)."""
