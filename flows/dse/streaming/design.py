"""A candidate of the streaming search: what the DSE varies on a model built from streaming stage cores.

The search's own record of a design, with one policy per kept exit and the IIs the planner folds to. The
design ``make synth DESIGN=`` builds is flows.dse.point.StreamDesign, the point file's: run._point_doc
writes it from a candidate and the layer plans the prediction made (``folding``), so both describe the
same hardware.

Knobs (issue 14, item 1):

* ``exits``: the exits kept (the final one for an adaptive design; a single earlier one for a
  subnet, a truncated network);
* ``policies``: the exit policy of each kept exit (the last kept exit decides nothing: its unit runs
  the policy whose unit is cheapest, run.threshold_sets) and ``thresholds``, one code each, from the
  calibration split;
* ``parallelism``: P, pixels per beat of stage 1's input (window kernels per cycle of its convs);
* ``stage_ii``: the initiation interval each deployed stage is balanced to (cycles per frame): the
  planner folds every conv/dense of the stage to it (window kernels, or MVAU PE x SIMD below one
  window per cycle). Stage 1's is the input's rate, frame pixels / P; a later stage that only a
  fraction of the samples reach may be slower;
* ``buffer_frames``: the conditional buffer's depth in frames at each boundary after a kept exit.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StreamCandidate:
    exits: tuple[int, ...]
    thresholds: tuple[int, ...]
    policies: tuple[str, ...]
    parallelism: int
    stage_ii: tuple[int, ...]          # one per deployed stage (stages 1 .. exits[-1])
    buffer_frames: tuple[int, ...]     # one per boundary 1 .. deployed - 1 (0 where the exit is dropped)

    def __post_init__(self) -> None:
        if not self.exits or list(self.exits) != sorted(set(self.exits)) or self.exits[0] < 1:
            raise ValueError(f"exits {self.exits} must be increasing 1-based exit indices")
        if not len(self.thresholds) == len(self.policies) == len(self.exits):
            raise ValueError(f"one threshold and one policy per kept exit: exits {self.exits}, thresholds "
                             f"{self.thresholds}, policies {self.policies}")
        if len(self.stage_ii) != self.deployed or len(self.buffer_frames) != self.deployed - 1:
            raise ValueError(f"{self.deployed} deployed stages need {self.deployed} stage IIs and "
                             f"{self.deployed - 1} buffer depths; got {self.stage_ii}, {self.buffer_frames}")
        if self.parallelism < 1:
            raise ValueError(f"parallelism {self.parallelism}: at least one pixel per beat")

    @property
    def deployed(self) -> int:
        return self.exits[-1]

    def mode(self, n_exits: int) -> str:
        """adaptive: two or more exits kept, the final among them; single: the final exit alone (no
        early exit); subnet: a truncated network ending at an earlier exit."""
        if self.exits[-1] != n_exits:
            return "subnet"
        return "adaptive" if len(self.exits) > 1 else "single"

    def to_dict(self) -> dict:
        return {"exits": list(self.exits), "thresholds": list(self.thresholds), "policies": list(self.policies),
                "parallelism": self.parallelism, "stage_ii": list(self.stage_ii),
                "buffer_frames": list(self.buffer_frames)}

    @classmethod
    def from_dict(cls, d: dict) -> StreamCandidate:
        return cls(tuple(d["exits"]), tuple(d["thresholds"]), tuple(d["policies"]), int(d["parallelism"]),
                   tuple(d["stage_ii"]), tuple(d["buffer_frames"]))
