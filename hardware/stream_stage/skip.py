"""FIFO depths on the branches of a skip connection, so a residual block cannot deadlock.

A join (Add, Concatenate) takes one beat from every input at a time, and its inputs come from one
fork, which lets a beat go only when every branch took it. A branch through a sliding window (or a
gather, a dense layer, a global pool) takes in rows of input before it gives its first beat: while it
does, the other branch's beats wait in that branch's FIFO. If the FIFO fills first, the fork stops,
the windowed branch never gets its rows, and the join waits for ever. So each branch's FIFO holds at
least the *lag* of the other branches: the input beats they can take in, from the fork on, before
giving an output (hardware/join).

Lags are upper bounds (one pixel per beat, whole padded rows), summed along the branch and rounded up
to a power of two for stream_fifo. Beats inside kernel pipelines and FIFOs do not count: those
blocks give them out without more input, so they cannot hold the join up.
"""
from __future__ import annotations

import math

from frontend.ir import INPUT, LayerIR, StageIR

JOINS = ("add", "concat")
WINDOWED = ("conv2d", "maxpool", "avgpool", "zeropad")
WHOLE_FRAME = ("dense", "global_avgpool")
MARGIN = 16         # the fork's and the join's registers, and slack so the skip FIFO seldom stalls the fork


def _beats(ir: StageIR) -> dict[str, int]:
    """Beats per frame of every stream at one pixel per beat (a vector after a dense layer is one beat)."""
    beats = {INPUT: math.prod(ir.input_shape[:2]) if len(ir.input_shape) == 3 else 1}
    for layer in ir.layers:
        if len(layer.out_shape) == 3:
            beats[layer.name] = layer.out_shape[0] * layer.out_shape[1]
        elif layer.op in WHOLE_FRAME:
            beats[layer.name] = 1
        else:   # flatten, reshape to a vector, quantisers, joins: the beats of the input
            beats[layer.name] = beats[layer.inputs[0]]
    return beats


def own_lag(layer: LayerIR, in_beats: int) -> int:
    """Input beats ``layer`` can take before it must give an output beat (an upper bound)."""
    if layer.op in WINDOWED:   # the rows below an output row's top that its windows reach, one stride more
        kh, kw = layer.window
        top, _, left, right = layer.padding
        return (max(kh - 1 - top, 0) + layer.strides[0]) * (layer.in_shape[1] + left + right) + kw
    if layer.op in WHOLE_FRAME:   # a gather or an accumulation over the whole frame
        return in_beats
    if layer.op == "reshape" and len(layer.out_shape) == 3 and len(layer.in_shape) == 3:
        return max(1, layer.out_shape[2] // layer.in_shape[2])    # a gather of whole pixels
    return 0


def skip_fifo_depths(ir: StageIR, minimum: int) -> dict[tuple[str, str], int]:
    """(stream, reader) -> depth of that fork branch's FIFO (at least ``minimum``), for every fork a join
    depends on; other branches keep ``minimum``."""
    beats = _beats(ir)
    ancestors: dict[str, set[str]] = {INPUT: {INPUT}}
    order = [INPUT] + [layer.name for layer in ir.layers]
    for layer in ir.layers:
        ancestors[layer.name] = {layer.name}.union(*(ancestors[i] for i in layer.inputs))
    depths: dict[tuple[str, str], int] = {}
    for join in (layer for layer in ir.layers if layer.op in JOINS):
        common = set.intersection(*(ancestors[i] for i in join.inputs))
        fork = max(common, key=order.index)         # the latest stream every input descends from
        lag = _lags_from(fork, ir, beats)
        lags = [lag[i] for i in join.inputs]
        for k, src in enumerate(join.inputs):
            need = max(lags[:k] + lags[k + 1:]) + MARGIN
            depth = max(minimum, 1 << max(0, need - 1).bit_length())
            readers = [c.name for c in ir.consumers(fork) if c.name == join.name and src == fork
                       or c.name != join.name and c.name in ancestors[src]]
            for reader in readers:
                depths[(fork, reader)] = max(depths.get((fork, reader), minimum), depth)
    return depths


def _lags_from(fork: str, ir: StageIR, beats: dict[str, int]) -> dict[str, int]:
    """Lag of every stream descending from ``fork``, in beats of ``fork``'s stream."""
    lag = {fork: 0}
    for layer in ir.layers:
        ins = [lag[i] for i in layer.inputs if i in lag]
        if not ins or layer.name in lag:
            continue
        in_beats = beats[layer.inputs[0]]
        own = math.ceil(own_lag(layer, in_beats) * beats[fork] / in_beats)
        lag[layer.name] = max(ins) + own
    return lag
