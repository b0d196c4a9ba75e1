"""cgen backend: static C code generation with the project's own kernels."""

from .generator import CgenOutput, generate

__all__ = ["CgenOutput", "generate"]
