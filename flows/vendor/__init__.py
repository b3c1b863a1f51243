"""Vendor flow (Vivado/Vitis HLS + Vivado): flow selection, script generation and report parsers."""
