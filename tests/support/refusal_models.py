"""Models that exercise each refusal path, made from toycar by schema edits (cgen_helpers'
edit_model: edit(schema, model)): a custom operator, an operator no backend has, a second
subgraph, uint8 activations."""

from __future__ import annotations

import copy


def with_operator(fb, model, index: int, builtin: int, custom: str = "") -> None:
    """Operator ``index`` becomes ``builtin`` (a custom operator when ``custom``)."""
    code = fb.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = builtin
    code.customCode, code.version = custom or None, 1
    model.operatorCodes.append(code)
    op = model.subgraphs[0].operators[index]
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.builtinOptionsType, op.builtinOptions = 0, None


def custom_op(fb, model) -> None:
    with_operator(fb, model, 3, fb.BuiltinOperator.CUSTOM, custom="MlonmcuCustom")


def no_backend_op(fb, model) -> None:  # LSH_PROJECTION: in no backend, TFLM or TVM
    with_operator(fb, model, 3, fb.BuiltinOperator.LSH_PROJECTION)


def second_subgraph(fb, model) -> None:
    model.subgraphs.append(copy.deepcopy(model.subgraphs[0]))


def uint8_activations(fb, model) -> None:
    """Every activation tensor uint8 (zero points moved by 128), as old uint8 models were."""
    sg = model.subgraphs[0]
    weights = {op.inputs[1] for op in sg.operators}
    for k, tensor in enumerate(sg.tensors):
        if tensor.type == fb.TensorType.INT8 and k not in weights:
            tensor.type = fb.TensorType.UINT8
            tensor.quantization.zeroPoint = [z + 128 for z in tensor.quantization.zeroPoint]


EDITS = {
    "custom": custom_op,
    "lsh": no_backend_op,
    "second": second_subgraph,
    "uint8": uint8_activations,
}
