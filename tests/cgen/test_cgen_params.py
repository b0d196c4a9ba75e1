"""cgen's parameter structs: the dataclasses of params.py and the C structs agree.

The kernels compile against the header generated from the dataclasses; an initializer
with every field, written the way the lowering writes them, is read back in C field by field.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from cgen_helpers import have_host_gcc

from pytest_mlonmcu.backends.cgen.cemit import CodeBuilder
from pytest_mlonmcu.backends.cgen.generator import KERNEL_DIR
from pytest_mlonmcu.backends.cgen.params import (
    HEADER_FILE,
    STRUCTS,
    ConvParams,
    CStruct,
    CType,
    PoolParams,
    params_header,
)
from pytest_mlonmcu.core.errors import BuildError

POINTERS = {
    "const int8_t *": "test_int8",
    "const int16_t *": "test_int16",
    "const int32_t *": "test_int32",
    "const int64_t *": "test_int64",
    "const float *": "test_float",
}


def _value(ctype: CType, seed: int):
    """A value that differs between fields and uses both signs and most of the range."""
    if ctype.length:
        return [_value(ctype.item, seed * 7 + k) for k in range(ctype.length)]
    if ctype.bits:
        limit = (1 << (ctype.bits - 1)) - 1
        return (seed * 7919 % limit) * (-1 if seed % 2 else 1)
    if ctype.name == "float":
        return np.float32(seed + 0.375)
    return POINTERS[ctype.name]


def _full_instance(cls: type[CStruct], first_seed: int) -> tuple[CStruct, list[tuple[str, str]]]:
    """An instance with every field set, and the C reads of each (expression, expected)."""
    values = {f.name: _value(f.ctype, first_seed + i) for i, f in enumerate(cls.c_fields())}
    expected = []
    for f in cls.c_fields():
        value = values[f.name]
        if f.ctype.length:
            expected += [(f"{f.name}[{k}]", str(v)) for k, v in enumerate(value)]
        elif f.ctype.name == "float":
            expected.append((f.name, repr(float(value))))
        else:
            expected.append((f.name, str(value)))
    return cls(**values), expected


def _print(struct: str, field: str, ctype: CType) -> str:
    if ctype.name == "float":
        return f'printf("%.17g\\n", (double){struct}.{field});'
    if ctype.name in POINTERS:
        return f'printf("%s\\n", {struct}.{field} == {POINTERS[ctype.name]} ? "{POINTERS[ctype.name]}" : "?");'
    return f'printf("%ld\\n", (long){struct}.{field});'


@pytest.mark.skipif(not have_host_gcc(), reason="host gcc not found")
def test_every_field_reaches_the_kernels_structs(tmp_path):
    """The generated header compiles with every kernel (-Wall -Wextra -Werror), and an
    initializer of every struct with every field set reads back the same values in C."""
    for source in KERNEL_DIR.iterdir():
        shutil.copyfile(source, tmp_path / source.name)
    (tmp_path / HEADER_FILE).write_text(params_header())
    code = CodeBuilder()
    reads, expected = [], []
    for n, cls in enumerate(STRUCTS):
        params, values = _full_instance(cls, first_seed=100 * n + 1)
        name = code.struct(params)
        types = {f.name: f.ctype for f in cls.c_fields()}
        for expression, value in values:
            field = expression.split("[")[0]
            item = types[field].item if "[" in expression else types[field]
            reads.append(_print(name, expression, item))
            expected.append(value)
    (tmp_path / "main.c").write_text(
        "\n".join(
            [
                "#include <stdio.h>",
                '#include "cgen_kernels.h"',
                f'#include "{HEADER_FILE}"',
                *(
                    f"static const {ctype.removeprefix('const ').removesuffix(' *')} {name}[1] = {{0}};"
                    for ctype, name in POINTERS.items()
                ),
                *code.params,
                "int main(void) {",
                *(f"  {line}" for line in reads),
                "  return 0;",
                "}",
                "",
            ]
        )
    )
    exe = tmp_path / "main"
    sources = sorted(str(p) for p in tmp_path.glob("*.c"))
    cmd = ["gcc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", f"-I{tmp_path}"]
    proc = subprocess.run([*cmd, *sources, "-lm", "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    got = out.split("\n")[:-1]
    floats = [i for i, line in enumerate(reads) if "(double)" in line]
    for i in floats:
        got[i], expected[i] = float(got[i]), float(expected[i])
    assert got == expected


def test_the_kernels_header_names_every_generated_struct():
    kernels_h = (KERNEL_DIR / "cgen_kernels.h").read_text()
    named = re.findall(r"^typedef struct (\w+) (\w+);", kernels_h, re.M)
    assert all(tag == name for tag, name in named)
    assert sorted(tag for tag, _ in named) == sorted(cls.c_name for cls in STRUCTS)
    header = params_header()
    assert sorted(re.findall(r"^struct (\w+) \{", header, re.M)) == sorted(
        cls.c_name for cls in STRUCTS
    )


def _pool(**changes) -> PoolParams:
    fields = dict.fromkeys((f.name for f in PoolParams.c_fields()), 1)
    fields.update(changes)
    return PoolParams(**fields)


def test_a_misspelt_field_fails_in_python():
    with pytest.raises(TypeError, match="chanels"):
        _pool(chanels=3)
    params, _ = _full_instance(ConvParams, 1)
    with pytest.raises(AttributeError):
        params.ylo = 3  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="act_max"):
        PoolParams(**{f.name: 1 for f in PoolParams.c_fields() if f.name != "act_max"})


def test_a_value_outside_its_c_type_is_a_build_error():
    code = CodeBuilder()
    code.struct(_pool(in_h=32767, act_min=-32768))
    with pytest.raises(BuildError, match=r"cgen: in_h = 32768 exceeds the kernels' 16-bit"):
        code.struct(_pool(in_h=32768))
    params, _ = _full_instance(ConvParams, 1)
    params.in_zp = 128
    with pytest.raises(BuildError, match=r"cgen: in_zp = 128 exceeds the kernels' 8-bit"):
        code.struct(params)
