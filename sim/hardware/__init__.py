"""cocotb verification of the hardware library's streaming primitives (hardware/swg, hardware/window_kernel)."""
