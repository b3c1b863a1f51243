"""Port packing: element i of the C-order flatten at bits [i*W +: W], tensors back to back."""
from __future__ import annotations

import numpy as np

from hardware.stage.packing import PortTensor, pack, port_width, unpack
from frontend.fixedpoint import FixedFormat


def test_element_i_sits_at_bits_i_times_width_in_twos_complement():
    a = PortTensor("a", (2, 1), FixedFormat(4, 1, True))
    b = PortTensor("b", (1,), FixedFormat(3, 0, False))
    word = pack([a, b], [np.array([[[-1], [5]]]), np.array([[6]])])[0]
    assert word & 0xF == 0b1111          # a[0,0] = -1
    assert (word >> 4) & 0xF == 5        # a[1,0]
    assert (word >> 8) & 0x7 == 6        # b[0] follows a
    assert port_width([a, b]) == 11


def test_pack_and_unpack_round_trip_random_codes():
    rng = np.random.default_rng(0)
    tensors = [PortTensor("logits", (10,), FixedFormat(16, 9, True)), PortTensor("fwd", (4, 4, 8), FixedFormat(6, 4, False))]
    codes = [rng.integers(t.fmt.min_code, t.fmt.max_code + 1, size=(50,) + t.shape) for t in tensors]
    back = unpack(tensors, pack(tensors, codes))
    assert all(np.array_equal(c, d) for c, d in zip(codes, back))
