"""The names ``gradtx.contrib`` has beyond ``optax.contrib`` (issue 16 part 3): not
compared with Optax by tests/contrib/test_api.py; tests/contrib/test_beyond_api.py
checks that Optax indeed lacks them."""

BEYOND_OPTAX = frozenset(
    {
        "CautiousState",
        "NorMuonState",
        "ScaleByAdaHessianState",
        "ScaleByAdamMiniState",
        "ScaleByKronState",
        "ScaleByMarsState",
        "ScaleByShampooState",
        "ScaleBySoapState",
        "adahessian",
        "adam_mini",
        "add_cautious_decayed_weights",
        "asam",
        "cautious",
        "kron",
        "mars",
        "scale_by_adahessian",
        "scale_by_adam_mini",
        "scale_by_asam",
        "scale_by_kron",
        "scale_by_mars",
        "scale_by_shampoo",
        "scale_by_soap",
        "shampoo",
        "soap",
    }
)
