"""cocotb verification of the per-stage cores built by flows/stage_rtl."""
