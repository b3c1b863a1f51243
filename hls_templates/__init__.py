"""Per-stage hls4ml projects, bit-exact in C simulation with the QKeras stages.

precision: exact per-layer hls4ml precisions from the QKeras quantisers.
convert:   write/compile one stage's project; compare it with QKeras bit for bit.
diagnose:  on a mismatch, name the first layer where hls4ml departs from QKeras.
"""
from hls_templates.convert import (BitExactResult, NotBitExact, StageRecord, check_bit_exact,
                                   check_stages_bit_exact, convert_stage, convert_stages, hls_config,
                                   raise_if_not_bit_exact, read_stage_record)
from hls_templates.precision import (UnsupportedLayer, derive_formats, forwarded_format,
                                     hls_layer_config, logit_format, output_formats, stage_input_format)

__all__ = [
    "BitExactResult", "NotBitExact", "StageRecord", "UnsupportedLayer", "check_bit_exact", "check_stages_bit_exact", "convert_stage",
    "convert_stages", "derive_formats", "forwarded_format", "hls_config", "hls_layer_config", "logit_format",
    "output_formats", "raise_if_not_bit_exact", "read_stage_record", "stage_input_format",
]
