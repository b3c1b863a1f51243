"""The streaming primitives are lint-clean at the corners of their parameters (1-bit data, one-beat frames,
N = 1, ...), not only with their defaults (tests/hardware/test_lint.py)."""
from __future__ import annotations

import pytest

from hardware.cond_buffer import CondBuffer
from hardware.dwc import StreamGather, StreamSplit
from hardware.fifo import StreamFifo
from hardware.fork import StreamFork
from hardware.lint import lint
from hardware.primitive import Primitive

CORNERS: list[Primitive] = [
    StreamFifo(1, 2), StreamFifo(24, 512), StreamFifo(33, 64),
    StreamFork(1, 1), StreamFork(7, 3),
    CondBuffer(1, 1, 2), CondBuffer(24, 144, 256), CondBuffer(8, 16, 16), CondBuffer(5, 7, 8),
    StreamGather(1, 2), StreamGather(5, 3, aligned=True), StreamGather(8, 8),
    StreamSplit(1, 2), StreamSplit(5, 3), StreamSplit(8, 8),
]


@pytest.mark.parametrize("primitive", CORNERS, ids=repr)
def test_streaming_primitive_is_lint_clean_at_parameter_corners(primitive):
    warnings = lint(primitive.files, primitive.top, primitive.parameters)
    assert not warnings, f"{primitive}:\n" + "\n".join(warnings[:20])
