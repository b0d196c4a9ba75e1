"""The etiss target: programs under tests/etiss/programs/ built with the harness and run on ETISS.

ETISS is built once per machine into the per-user cache from the vendored source
(MLONMCU_VENDOR_DIR=<repo>/../shared/vendor); the first run of these tests takes ~2 minutes
for that, later runs reuse it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from pytest_mlonmcu.core.artifacts import Artifact, Program, RunOutput
from pytest_mlonmcu.core.cache import Cache
from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.core.errors import CompileError, RunError
from pytest_mlonmcu.core.samples import SampleSet
from pytest_mlonmcu.install.etiss import ENV_INSTALL_DIR, ENV_SOURCE, PIN
from pytest_mlonmcu.install.sources import VENDOR_DIR_ENV
from pytest_mlonmcu.platforms.mlif.target import COMMON_DIR
from pytest_mlonmcu.targets.etiss import Etiss

REPO = Path(__file__).resolve().parents[2]
VENDOR = Path(os.environ.get("MLONMCU_VENDOR_DIR") or REPO.parent / "shared" / "vendor")
PROGRAMS = Path(__file__).parent / "programs"

# Exact counts of count_loop.c (rv32gc, GCC 12.2 -O2). `li t1,N` is one instruction for
# N < 2048 and two (lui + addi) for 100000 and 1000000.
#   region (between loop_region's two rdinstret): rdinstret + li + 2 per iteration;
#   invoke (the harness's count): region + loop_region's rdinstret/sub/ret tail (3) and, around
#   it, the counter read's tail 4, main's call setup 5, mlif_measured_call 1,
#   mlif_model_invoke 3 + 6, main after the call 2, the next counter read 1 = 25.
KNOWN_COUNTS = [  # (N, region, invoke)
    (1000, 2002, 2027),
    (100_000, 200_003, 200_028),
]


@pytest.fixture(scope="session")
def etiss_env():
    """Point the installer at the vendored ETISS source (unless the user chose one)."""
    if not (os.environ.get(ENV_INSTALL_DIR) or os.environ.get(ENV_SOURCE)):
        if not (VENDOR / PIN.vendor_tarball).is_file():
            pytest.skip(f"no {PIN.vendor_tarball} in {VENDOR.resolve()} (set {VENDOR_DIR_ENV})")
    mp = pytest.MonkeyPatch()
    mp.setenv(VENDOR_DIR_ENV, str(VENDOR.resolve()))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def harness_cache(tmp_path_factory) -> Cache:
    # Harness objects only: ETISS itself always goes to the per-user cache.
    return Cache(tmp_path_factory.mktemp("harness-cache"))


@pytest.fixture
def make_target(etiss_env, harness_cache):
    def make(**settings) -> Etiss:
        config = RunConfig({f"etiss.{k}": str(v) for k, v in settings.items()})
        target = Etiss(config.scoped("etiss"), harness_cache)
        reason = target.unavailable_reason()
        if reason:
            pytest.skip(reason)
        return target

    return make


def compile_program(
    target, name: str, work: Path, samples: SampleSet | None = None, defines=None
) -> Program:
    source = next(PROGRAMS.glob(f"{name}.c*"))
    artifact = Artifact("test", PROGRAMS, sources=[source], defines=dict(defines or {}))
    samples = samples or SampleSet([[np.zeros(4, np.uint8)]])
    return target.compile(artifact, samples, work)


def run_program(target, name: str, work: Path, samples=None, defines=None) -> RunOutput:
    return target.run(compile_program(target, name, work, samples, defines), work)


def region_count(result: RunOutput) -> int:
    return int.from_bytes(result.outputs[0][0], "little")


# -- outputs, files ----------------------------------------------------------------------


def test_outputs_arrive(make_target, tmp_path):
    inputs = [np.arange(16, dtype=np.int8), np.arange(-8, 8, dtype=np.int8) * 3]
    samples = SampleSet([[a] for a in inputs], invoke_runs=2)
    result = run_program(make_target(), "ident", tmp_path, samples)

    assert [o[0] for o in result.outputs] == [(a + 1).astype(np.int8).tobytes() for a in inputs]
    assert result.metrics["invoke_instructions"] > 0
    log = (tmp_path / "run.log").read_text()
    assert "ident: init 42" in log  # picolibc printf -> logger
    for name in ("etiss.ini", "run.log", "run_etiss.sh", "program.elf", "compile_commands.sh"):
        assert (tmp_path / name).is_file(), name
    ini = (tmp_path / "etiss.ini").read_text()
    assert f"vp.elf_file={tmp_path / 'program.elf'}" in ini
    assert "plugin.logger.logaddr=0x80000000" in ini
    # The script reproduces the run by itself.
    again = subprocess.run(
        [str(tmp_path / "run_etiss.sh")], capture_output=True, text=True, timeout=60
    )
    assert "MLIF done 0" in again.stdout


def test_cxx_static_constructors_run(make_target, tmp_path):
    samples = SampleSet([[np.array([1, 2, 3, 4], dtype=np.uint8)]])
    result = run_program(make_target(), "cxx_ctor", tmp_path, samples)
    assert result.outputs[0][0] == bytes([11, 22, 33, 44])


def test_printed_command_reproduces(make_target, tmp_path):
    result = run_program(make_target(), "ident", tmp_path, SampleSet([[np.zeros(16, np.int8)]]))
    assert result.command[0].endswith("bin/bare_etiss_processor")
    assert any(arg == f"-i{tmp_path / 'etiss.ini'}" for arg in result.command)


# -- exact counts ------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "region", "invoke"), KNOWN_COUNTS)
def test_known_count_is_exact(make_target, tmp_path, n, region, invoke):
    result = run_program(make_target(), "count_loop", tmp_path, defines={"COUNT_N": n})
    assert region_count(result) == region
    assert result.metrics["invoke_instructions"] == invoke


def test_count_difference_is_the_loop(make_target, tmp_path):
    target = make_target()
    small = run_program(target, "count_loop", tmp_path / "a", defines={"COUNT_N": 5000})
    big = run_program(target, "count_loop", tmp_path / "b", defines={"COUNT_N": 7000})
    diff = big.metrics["invoke_instructions"] - small.metrics["invoke_instructions"]
    assert diff == 2 * 2000


@pytest.mark.parametrize("arch", ["rv32imafc", "rv32imac", "rv32imc", "rv32im"])
def test_arch_variants(make_target, tmp_path, arch):
    target = make_target(arch=arch)
    data = np.arange(16, dtype=np.int8)
    result = run_program(target, "ident", tmp_path / "ident", SampleSet([[data]]))
    assert result.outputs[0][0] == (data + 1).tobytes()
    counted = run_program(target, "count_loop", tmp_path / "count", defines={"COUNT_N": 321})
    assert region_count(counted) == 2 * 321 + 2
    flags = (tmp_path / "count" / "compile_commands.sh").read_text()
    assert f"-march={arch}" in flags


def qemu_region_count(n: int, work: Path) -> int:
    """loop_region() of count_loop.c on qemu-system-riscv32 -M virt -icount shift=0."""
    if not shutil.which("qemu-system-riscv32"):
        pytest.skip("qemu-system-riscv32 is missing (apt-get install qemu-system-misc)")
    work.mkdir(parents=True, exist_ok=True)
    elf = work / "qemu_count.elf"
    # picolibc's own startup and linker script, placed at QEMU virt's RAM.
    cmd = ["riscv64-unknown-elf-gcc", "-march=rv32gc", "-mabi=ilp32d", "-misa-spec=2.2", "-O2"]
    cmd += ["--specs=picolibc.specs", "--oslib=semihost", "--crt0=hosted", f"-DCOUNT_N={n}"]
    cmd += ["-Wl,--defsym=__flash=0x80000000,--defsym=__flash_size=0x100000"]
    cmd += ["-Wl,--defsym=__ram=0x80100000,--defsym=__ram_size=0x100000"]
    cmd += [f"-I{COMMON_DIR}", str(PROGRAMS / "count_loop.c"), str(PROGRAMS / "qemu_count_main.c")]
    subprocess.run([*cmd, "-o", str(elf)], check=True, capture_output=True)
    run = ["qemu-system-riscv32", "-M", "virt", "-bios", "none", "-kernel", str(elf)]
    run += ["-display", "none", "-monitor", "none", "-serial", "none"]
    run += ["-semihosting-config", "enable=on,target=native", "-icount", "shift=0"]
    out = subprocess.run(run, capture_output=True, text=True, timeout=60)
    m = re.search(r"region (\d+)", out.stdout)
    assert out.returncode == 0 and m, out.stdout + out.stderr
    return int(m.group(1))


def test_counts_match_qemu(make_target, harness_cache, tmp_path):
    n = 1_000_000
    etiss = run_program(make_target(), "count_loop", tmp_path / "etiss", defines={"COUNT_N": n})
    assert region_count(etiss) == 2 * n + 3  # rdinstret + lui/addi + 2 per iteration
    try:
        from pytest_mlonmcu.targets.riscv_qemu import RiscvQemu
    except ImportError:
        RiscvQemu = None
    qemu_target = RiscvQemu(RunConfig().scoped("riscv_qemu"), harness_cache) if RiscvQemu else None
    if qemu_target is not None and qemu_target.unavailable_reason() is None:
        qemu = run_program(qemu_target, "count_loop", tmp_path / "qemu", defines={"COUNT_N": n})
        assert region_count(qemu) == region_count(etiss)
        # Same harness, same flags: the whole invoke counts the same on both simulators.
        assert qemu.metrics["invoke_instructions"] == etiss.metrics["invoke_instructions"]
    else:
        assert qemu_region_count(n, tmp_path / "qemu") == region_count(etiss)


# -- failures ----------------------------------------------------------------------------


def test_illegal_instruction_names_cause_and_symbol(make_target, tmp_path):
    with pytest.raises(RunError) as info:
        run_program(make_target(), "illegal", tmp_path)
    message = str(info.value)
    assert "illegal instruction (mcause=2)" in message
    assert "do_illegal" in message.splitlines()[0]
    assert "illegal.c" in message.splitlines()[0]


@pytest.mark.parametrize(
    ("access", "cause"),
    [(0, "load access fault (mcause=5)"), (1, "store/AMO access fault (mcause=7)")],
)
def test_access_fault_names_cause_and_symbol(make_target, tmp_path, access, cause):
    with pytest.raises(RunError) as info:
        run_program(make_target(), "bad_access", tmp_path, defines={"ACCESS": access})
    first = str(info.value).splitlines()[0]
    assert cause in first and "do_bad_access" in first


def test_endless_loop_times_out(make_target, tmp_path):
    target = make_target(timeout=2)
    program = compile_program(target, "endless", tmp_path)
    start = time.monotonic()
    with pytest.raises(RunError, match="timeout"):
        target.run(program, tmp_path)
    assert time.monotonic() - start < 10


def test_broken_simulator_setup_shows_etiss_error(make_target, tmp_path):
    with pytest.raises(RunError) as info:
        run_program(make_target(jit="NoSuchJIT"), "count_loop", tmp_path)
    message = str(info.value)
    assert "ETISS failed" in message and "JIT" in message
    assert "--- output tail ---" in message and "bare_etiss_processor" in message


def test_rom_overflow_is_a_link_error_naming_rom(make_target, tmp_path):
    with pytest.raises(CompileError, match=r"region .ROM. overflowed"):
        compile_program(make_target(rom_size="32KiB"), "big_const", tmp_path)
    # With the default (4 MiB) it links and runs.
    result = run_program(make_target(), "big_const", tmp_path / "ok")
    assert result.outputs[0][0][0] == 1


def test_ram_overflow_is_a_link_error_naming_ram(make_target, tmp_path):
    with pytest.raises(CompileError, match=r"region .RAM. overflowed"):
        compile_program(make_target(ram_size="32KiB", stack_size="64KiB"), "count_loop", tmp_path)


# -- stack, floating point ---------------------------------------------------------------


def test_stack_peak(make_target, tmp_path):
    target = make_target()
    small = run_program(target, "stack_use", tmp_path / "a", defines={"STACK_BYTES": 8192})
    big = run_program(target, "stack_use", tmp_path / "b", defines={"STACK_BYTES": 16384})
    assert 8192 <= small.metrics["stack_bytes"] < 8192 + 1024
    assert big.metrics["stack_bytes"] - small.metrics["stack_bytes"] == 8192


FP_VALUES = [0.0, 0.5, 1.0, 5.0, 123456789.75, 4294967295.0, 4294967299.0, 2.0**62 + 2048.0]


@pytest.mark.parametrize("arch", ["rv32gc", "rv32imafc", "rv32imac"])
def test_double_to_uint64(make_target, tmp_path, arch):
    """ETISS's fnmsub.d bug makes libgcc's __fixunsdfdi return 0 below 2^32; ours does not."""
    samples = SampleSet([[np.array(FP_VALUES, dtype=np.float64)]])
    result = run_program(make_target(arch=arch), "fp_convert", tmp_path, samples)
    got = np.frombuffer(result.outputs[0][0], dtype="<u8").reshape(-1, 3).tolist()
    mask = (1 << 64) - 1
    want = [[int(d), (-int(d)) & mask, int(np.float32(d))] for d in FP_VALUES]
    assert got == want


ROUND_DOUBLES = [16777217.0, 3.3333333333, -3.3333333333, 4294967299.0, 0.1, 1e-3, -16777219.0, 2.5]
ROUND_INTS = [16777217, -16777217, 16777219, 2147483647, -2147483647, 123456789, 7, -1]


def float_outputs(result: RunOutput) -> list[list[int]]:
    return np.frombuffer(result.outputs[0][0], dtype="<u4").reshape(-1, 3).tolist()


def expected_roundings() -> list[list[int]]:
    out = []
    for d, n in zip(ROUND_DOUBLES, ROUND_INTS, strict=True):
        values = [np.float32(d), np.float32(n), np.float32(n & 0xFFFFFFFF)]
        out.append([int(v.view(np.uint32)) for v in values])
    return out


def rounding_samples() -> SampleSet:
    return SampleSet(
        [[np.array(ROUND_DOUBLES, dtype=np.float64), np.array(ROUND_INTS, dtype=np.int32)]]
    )


@pytest.mark.parametrize("arch", ["rv32gc", "rv32imafc", "rv32imac"])
def test_conversions_to_float_round_to_nearest(make_target, tmp_path, arch):
    result = run_program(make_target(arch=arch), "fp_round", tmp_path, rounding_samples())
    assert float_outputs(result) == expected_roundings()


def test_etiss_rounds_up_without_the_patch(make_target, tmp_path):
    """Documents the ETISS 0.11.2 behaviour that etiss.fix_rounding works around."""
    target = make_target(fix_rounding="false")
    result = run_program(target, "fp_round", tmp_path, rounding_samples())
    assert not (tmp_path / "etiss_patches.txt").exists()
    got, want = float_outputs(result), expected_roundings()
    assert got[0][0] == want[0][0] + 1  # (float)16777217.0 rounded up, not to even
    assert got[0][1] == want[0][1] + 1  # (float)16777217 likewise
