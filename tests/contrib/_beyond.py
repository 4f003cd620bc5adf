"""The names ``gradtx.contrib`` has beyond ``optax.contrib`` (issue 16 part 3): not
compared with Optax by tests/contrib/test_api.py; tests/contrib/test_beyond_api.py
checks that Optax indeed lacks them."""

BEYOND_OPTAX = frozenset(
    {
        "CautiousState",
        "ScaleByAdamMiniState",
        "ScaleByMarsState",
        "ScaleByShampooState",
        "ScaleBySoapState",
        "adam_mini",
        "add_cautious_decayed_weights",
        "cautious",
        "mars",
        "scale_by_adam_mini",
        "scale_by_asam",
        "scale_by_mars",
        "scale_by_shampoo",
        "scale_by_soap",
        "shampoo",
        "soap",
    }
)
