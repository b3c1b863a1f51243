"""Simulation of the DSE's folded (streaming) cores."""
