"""cgen backend: static C code generation with the project's own int8 kernels."""

from .generator import CgenOutput, generate

__all__ = ["CgenOutput", "generate"]
