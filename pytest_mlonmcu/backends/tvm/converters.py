"""The project's replacements for some of TVM's TFLite operator converters, installed before
an import: each handles the forms TVM converts otherwise than TFLM computes (or not at all)
and hands every other form back to TVM's own converter."""

from __future__ import annotations

import functools

from . import int16, lut

# operator -> (converter, name, TVM's converter for the operator, op) -> Relax expression
OVERRIDES = {
    "HARD_SWISH": lut.lookup,
    "RSQRT": lut.lookup,
    "PRELU": lut.lookup,
    "FULLY_CONNECTED": int16.fully_connected,
}


def install(converter_cls) -> None:
    """Route OVERRIDES' operators of every converter made after this through them."""
    if getattr(converter_cls, "_mlonmcu_overrides", False):
        return
    original_init = converter_cls.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        for name, override in OVERRIDES.items():
            fallback = self.convert_map[name]
            self.convert_map[name] = functools.partial(override, self, name, fallback)

    converter_cls.__init__ = __init__
    converter_cls._mlonmcu_overrides = True
