"""cgen on the four MLPerf Tiny int8 models: bit-exact with TFLite Micro on the host,
for seeded random inputs and the models' own sample inputs, in both variants."""

from __future__ import annotations

import pytest
from cgen_helpers import (
    assert_bit_exact,
    build_host,
    count_macs,
    have_host_gcc,
    mlperf_model_path,
    random_inputs,
    run_host,
    sample_inputs,
    tflm_run,
)

from pytest_mlonmcu.backends.cgen.model import read_model

MODELS = ["aww", "vww", "resnet", "toycar"]
VARIANTS = ["optimized", "reference"]
# From the models' own description (SOURCES.md): MACs and the peak of live activations.
EXPECTED_MACS = {"aww": 2_656_768, "vww": 7_489_664, "resnet": 12_501_632, "toycar": 264_192}
PEAK_LIVE = {"aww": 16_000, "vww": 55_296, "resnet": 49_152, "toycar": 768}

pytestmark = pytest.mark.skipif(not have_host_gcc(), reason="host gcc not found")


def load(name: str) -> bytes:
    path = mlperf_model_path(name)
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path.read_bytes()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", MODELS)
def test_mlperf_bit_exact(name, variant, tmp_path):
    model = load(name)
    cg, exe = build_host(model, tmp_path, variant)
    sets = random_inputs(model, 3, seed=11) + sample_inputs(name, model)
    want = tflm_run(model, sets)
    assert_bit_exact(run_host(exe, sets, want[0]), want)

    assert cg.ops == [op.name for op in read_model(model).operators]
    # The README's claim: the arena is the peak of simultaneously live tensors, on all four.
    assert cg.arena_bytes == cg.arena_lower_bound == PEAK_LIVE[name]


@pytest.mark.parametrize("name", MODELS)
def test_mlperf_constants(name, tmp_path):
    """Emitted constants: the weights plus a few bytes per output channel."""
    model = load(name)
    assert count_macs(model) == EXPECTED_MACS[name]
    g = read_model(model)
    const_bytes = sum(t.nbytes for t in g.tensors if t.is_const and t.dtype in ("INT8", "INT32"))
    from pytest_mlonmcu.backends.cgen import generate

    cg = generate(model, tmp_path)
    channels = sum(
        g.tensors[op.outputs[0]].shape[-1]
        for op in g.operators
        if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
    )
    # weights + biases (folded, same size) + int32 multiplier and int8 shift per channel
    assert const_bytes <= cg.weights_bytes <= const_bytes + 5 * channels + 64
