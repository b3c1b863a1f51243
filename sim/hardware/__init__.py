"""cocotb testbenches of the hand-written streaming primitives of hardware/ (one tb_<primitive>.py each)."""
