"""``stream_pool.v`` (:class:`StreamPool`): non-overlapping K x K max pooling on a P-wide pixel stream.

The sliding-window generator takes P > 1 pixels per beat only at stride 1; a pooling layer whose
stride is its window (MaxPooling2D's default) instead reduces each beat's K neighbouring pixels at
once and keeps the running maximum of a pooling group's rows in one row of IN_W / P words, so it
reads P pixels per beat and writes P / K: a 24x24 frame at P = 4 pools in 144 cycles.
"""
from __future__ import annotations

from dataclasses import dataclass

from hardware.primitive import PrimitiveParameterError, Primitive, require_at_least


@dataclass(frozen=True)
class StreamPool(Primitive):
    in_shape: tuple[int, int, int]   # (H, W, C) of the frame read
    bits: int                        # element width
    pool: int                        # K: window = stride = K x K
    parallelism: int                 # P pixels per input beat
    signed: bool = False

    top = "stream_pool"
    SOURCES = ("pool/stream_pool.v",)

    def __post_init__(self) -> None:
        h, w, c = self.in_shape
        require_at_least(self.top, "B", self.bits, 1)
        require_at_least(self.top, "C", c, 1)
        require_at_least(self.top, "K", self.pool, 2, "a 1x1 pool is a plain wire")
        require_at_least(self.top, "P", self.parallelism, self.pool, "one beat must hold a whole pooling row")
        if not fits(self.in_shape, self.pool, self.parallelism):
            raise PrimitiveParameterError(
                f"{self.top}: P={self.parallelism} must be a multiple of K={self.pool}, and the image {h}x{w} "
                f"a multiple of K with its width of P; use the sliding-window generator at P=1")

    @property
    def out_parallelism(self) -> int:
        return self.parallelism // self.pool

    @property
    def out_shape(self) -> tuple[int, int, int]:
        h, w, c = self.in_shape
        return (h // self.pool, w // self.pool, c)

    @property
    def frame_cycles(self) -> int:
        """One input beat per cycle while the output is not stalled."""
        h, w, _ = self.in_shape
        return h * w // self.parallelism

    @property
    def parameters(self) -> dict[str, int]:
        return {"IN_W": self.in_shape[1], "C": self.in_shape[2], "B": self.bits, "K": self.pool,
                "P": self.parallelism, "SIGNED": int(self.signed)}


def fits(in_shape: tuple[int, int, int], pool: int, parallelism: int) -> bool:
    """Whether stream_pool takes this geometry (else the sliding-window generator does, at P = 1)."""
    h, w, _ = in_shape
    return (pool >= 2 and parallelism >= pool and parallelism % pool == 0 and w % parallelism == 0
            and h % pool == 0 and w % pool == 0)
