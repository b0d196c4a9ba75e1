"""The operator lowerings, one module per operator family; importing the package registers
every one of them in context.LOWERINGS."""

from . import (
    activation,
    binary,
    conv,
    fully_connected,
    movement,
    pool,
    quantize,
    reduce,
    shape,
    softmax,
)

__all__ = [
    "activation",
    "binary",
    "conv",
    "fully_connected",
    "movement",
    "pool",
    "quantize",
    "reduce",
    "shape",
    "softmax",
]
