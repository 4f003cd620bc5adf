"""A deterministic hypothesis profile for the reliability tests.

The profile is registered, not loaded: each test names it as the parent of its own
``settings``, so hypothesis tests elsewhere keep their defaults. Examples are derived
from the test's name (``derandomize``), so CI runs the same cases every time, and there
is no deadline (the first call of a transform compiles).
"""

from hypothesis import HealthCheck, Phase, settings

PROFILE = "gradtx-reliability"

settings.register_profile(
    PROFILE,
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    # No shrinking: a failing example is reported as drawn (shrinking compiles many more).
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
