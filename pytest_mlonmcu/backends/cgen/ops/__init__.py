"""The operator lowerings, one module per operator family; importing the package registers
every one of them in context.LOWERINGS."""

from . import (
    activation,
    binary,
    conv,
    float32,  # adds float32 forms to the int8 lowerings (it imports them first)
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
    "float32",
    "fully_connected",
    "movement",
    "pool",
    "quantize",
    "reduce",
    "shape",
    "softmax",
]
