"""What every hand-written streaming primitive's descriptor shares: its top module, its source files
and its Verilog parameters, checked when the descriptor is made.

    fifo = StreamFifo(width=24, depth=512)    # hardware/fifo
    fifo.files, fifo.top, fifo.parameters     # -> run_cocotb / synth_xilinx(params=...)

A bad parameter raises PrimitiveParameterError naming the parameter and the fix.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from hardware import source


class PrimitiveParameterError(ValueError):
    """A primitive was asked for with a parameter its Verilog cannot take; the message says which and why."""


def require_at_least(module: str, name: str, value: int, low: int, why: str = "") -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        reason = f" ({why})" if why else ""
        raise PrimitiveParameterError(f"{module} {name}={value!r} must be an integer >= {low}{reason}")


def require_power_of_two(module: str, name: str, value: int, low: int = 2, why: str = "") -> None:
    """value must be a power of two >= low; the message proposes the next one."""
    require_at_least(module, name, value, low, why)
    if value & (value - 1):
        raise PrimitiveParameterError(f"{module} {name}={value} must be a power of two: use "
                                      f"{name}={next_power_of_two(value)}")


def next_power_of_two(value: int) -> int:
    return 1 << max(0, int(value) - 1).bit_length()


@dataclass(frozen=True)
class Primitive:
    """A hand-written module: ``top`` in ``SOURCES`` (paths relative to hardware/), set by ``parameters``."""

    top: ClassVar[str]
    SOURCES: ClassVar[tuple[str, ...]]

    @property
    def files(self) -> list[Path]:
        return [source(s) for s in self.SOURCES]

    @property
    def parameters(self) -> dict[str, int]:
        raise NotImplementedError
