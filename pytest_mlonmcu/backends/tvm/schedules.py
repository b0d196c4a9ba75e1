"""Schedules of the kernels (``tvm.s_tir``) for a microcontroller: no workspaces.

Unscheduled Relax kernels compute each fused stage in its own loop nest over a full
intermediate tensor (allocated through TVMBackendAllocWorkspace when large). The
``inline`` schedule removes every intermediate tensor:

- blocks before the first reduction (padding, casts of the input) are inlined into it;
- blocks after a reduction (bias, requantization, cast) move under the reduction's
  spatial loops, in order: each output element is finished while its accumulator is
  live, and each intermediate shrinks to a scalar (computed once, unlike inlining,
  which would repeat a value at each of its uses);
- in kernels without a reduction, every block moves under the last block's loops.
"""

from __future__ import annotations

from collections.abc import Callable

from tvm import s_tir, tirx

SCHEDULES = ("inline", "none")


def _is_reduction(sch: s_tir.Schedule, block) -> bool:
    return any(iv.iter_type == tirx.IterVar.CommReduce for iv in sch.get(block).iter_vars)


def _is_sum(sch: s_tir.Schedule, block) -> bool:
    body = sch.get(block).body
    return isinstance(body, tirx.BufferStore) and isinstance(body.value, tirx.Add)


def _spatial_count(sch: s_tir.Schedule, block) -> int:
    return sum(1 for iv in sch.get(block).iter_vars if iv.iter_type == tirx.IterVar.DataPar)


def _try(fn: Callable, *args, **kwargs) -> bool:
    try:
        fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - a primitive that does not apply leaves the block as is
        return False
    return True


def _exists(sch: s_tir.Schedule, name: str) -> bool:
    return _try(sch.get_sblock, name)


UNROLL = 8  # factor of the innermost reduction loop (feature autotune searches it)
PAD_BLOCK = "PadInput"  # the block name of topi's pad and of lowering._pad_te


def _extent(sch: s_tir.Schedule, loop) -> int:
    extent = sch.get(loop).extent
    return int(extent) if isinstance(extent, tirx.IntImm) else 0


def schedule_inline(
    func: tirx.PrimFunc, pad_rows: bool = True, unroll: int = UNROLL
) -> tirx.PrimFunc:
    sch = s_tir.Schedule(func)
    root = sch.get_sblock("root")
    blocks = sch.get_child_blocks(root)
    names = [sch.get(b).name_hint for b in blocks]
    reductions = [n for n, b in zip(names, blocks) if _is_reduction(sch, b)]
    if not reductions:
        last = names[-1]
        for name in reversed(names[:-1]):
            loops = sch.get_loops(sch.get_sblock(last))
            _try(sch.compute_at, sch.get_sblock(name), loops[-1], preserve_unit_loops=True)
        return sch.mod["main"]
    first = names.index(reductions[0])
    params = list(func.params)
    pads = [n for n in names[:first] if n.startswith(PAD_BLOCK)] if pad_rows else []
    for i, name in enumerate(names):
        if name in reductions or name in pads:
            continue
        reads = [r.source for r in sch.get(sch.get_sblock(name)).reads]
        # Before the first reduction (the conv's own copy of its input) or reading only
        # parameters (a cast of a constant): inline, else such a block would keep its own
        # loop over all channels.
        if i < first or all(any(b.same_as(p) for p in params) for b in reads):
            _try(sch.compute_inline, sch.get_sblock(name))
    for name in pads:
        # Padding: the rows one output row needs, computed under the first non-trivial
        # loop of the reduction into a small buffer; the MAC loop then reads without tests.
        red = sch.get_sblock(reductions[0])
        loops = [
            lp for lp in sch.get_loops(red)[: _spatial_count(sch, red)] if _extent(sch, lp) > 1
        ]
        if not loops or not _try(
            sch.compute_at, sch.get_sblock(name), loops[0], preserve_unit_loops=True
        ):
            _try(sch.compute_inline, sch.get_sblock(name))
    names = [n for n in names if _exists(sch, n)]
    anchor = None
    for name in names[names.index(reductions[0]) :]:
        block = sch.get_sblock(name)
        if name in reductions:
            anchor = name
            continue
        red = sch.get_sblock(anchor)
        n_spatial = _spatial_count(sch, red)
        loops = sch.get_loops(red)
        # Only element-wise epilogues: a block writing a differently shaped tensor (a pad)
        # would lose the elements no iteration of the reduction covers.
        if 0 < n_spatial <= len(loops) and _out_shape(sch, block) == _out_shape(sch, red):
            _try(sch.reverse_compute_at, block, loops[n_spatial - 1], preserve_unit_loops=True)
    for name in reductions:
        red = sch.get_sblock(name)
        loops = sch.get_loops(red)
        n_spatial = _spatial_count(sch, red)
        if n_spatial < len(loops):
            # The accumulator's init before the reduction loops, not an if in the innermost one.
            _try(sch.decompose_reduction, red, loops[n_spatial])
        # Sums only: in an unrolled max/min reduction TVM's C codegen loads the accumulator
        # once and compares every step against that stale value (REDUCE_MAX came out up to
        # 80 LSB off); a sum's unrolled steps read it again.
        if unroll > 1 and _is_sum(sch, red):
            _unroll_innermost(sch, red, unroll)
    return sch.mod["main"]


def _unroll_innermost(sch: s_tir.Schedule, block, factor: int) -> None:
    """Unroll the innermost reduction loop by ``factor`` (fully when it is that short):
    per MAC two loads, a multiply and an add instead of also the loop's own increments."""
    inner = sch.get_loops(block)[-1]
    extent = _extent(sch, inner)
    if extent <= 1:
        return
    if extent <= factor:
        sch.unroll(inner)
    elif extent % factor == 0:
        _, body = sch.split(inner, [None, factor])
        sch.unroll(body)


def _out_shape(sch: s_tir.Schedule, block) -> tuple[int, ...]:
    writes = sch.get(block).writes
    if len(writes) != 1:
        return ()
    return tuple(int(d) for d in writes[0].source.shape)


def get_schedule(
    name: str, unroll: int = UNROLL
) -> Callable[[tirx.PrimFunc], tirx.PrimFunc] | None:
    """``inline`` (ours) or ``none`` (the kernels as Relax legalizes them: TVM's default).

    (dlight's CPU rules, GEMV and Reduction, match none of these kernels in 0.27.)"""
    if name == "none":
        return None
    return lambda func: schedule_inline(func, unroll=unroll)
