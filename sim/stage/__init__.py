"""cocotb verification of the per-stage cores built by hardware/stage."""
