"""Testbenches and simulation runs of the hardware library's primitives (hardware/<primitive>)."""
