"""Optimizers: documented ``chain`` compositions of transforms.

Each private module lists its public names in ``__all__``; this package re-exports
them (``gradtx.optimizers.X``) and ``gradtx`` re-exports them flat (``gradtx.X``).
"""

from gradtx.optimizers._adam import adabelief as adabelief
from gradtx.optimizers._adam import adam as adam
from gradtx.optimizers._adam import adamax as adamax
from gradtx.optimizers._adam import adamaxw as adamaxw
from gradtx.optimizers._adam import adamw as adamw
from gradtx.optimizers._adam import adan as adan
from gradtx.optimizers._adam import amsgrad as amsgrad
from gradtx.optimizers._adam import lion as lion
from gradtx.optimizers._adam import nadam as nadam
from gradtx.optimizers._adam import nadamw as nadamw
from gradtx.optimizers._adam import novograd as novograd
from gradtx.optimizers._adam import radam as radam
from gradtx.optimizers._adam import yogi as yogi
from gradtx.optimizers._adaptive import adadelta as adadelta
from gradtx.optimizers._adaptive import adafactor as adafactor
from gradtx.optimizers._adaptive import adagrad as adagrad
from gradtx.optimizers._adaptive import rmsprop as rmsprop
from gradtx.optimizers._extra import MaskOrFn as MaskOrFn
from gradtx.optimizers._extra import fromage as fromage
from gradtx.optimizers._extra import polyak_sgd as polyak_sgd
from gradtx.optimizers._extra import rprop as rprop
from gradtx.optimizers._extra import signum as signum
from gradtx.optimizers._extra import sm3 as sm3
from gradtx.optimizers._layerwise import lamb as lamb
from gradtx.optimizers._layerwise import lars as lars
from gradtx.optimizers._optimistic import optimistic_adam as optimistic_adam
from gradtx.optimizers._optimistic import optimistic_adam_v2 as optimistic_adam_v2
from gradtx.optimizers._optimistic import optimistic_gradient_descent as optimistic_gradient_descent
from gradtx.optimizers._quasi_newton import lbfgs as lbfgs
from gradtx.optimizers._sgd import noisy_sgd as noisy_sgd
from gradtx.optimizers._sgd import sgd as sgd
from gradtx.optimizers._sgd import sign_sgd as sign_sgd

__all__ = [
    "MaskOrFn",
    "adabelief",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamaxw",
    "adamw",
    "adan",
    "amsgrad",
    "fromage",
    "lamb",
    "lars",
    "lbfgs",
    "lion",
    "nadam",
    "nadamw",
    "noisy_sgd",
    "novograd",
    "optimistic_adam",
    "optimistic_adam_v2",
    "optimistic_gradient_descent",
    "polyak_sgd",
    "radam",
    "rmsprop",
    "rprop",
    "sgd",
    "sign_sgd",
    "signum",
    "sm3",
    "yogi",
]
