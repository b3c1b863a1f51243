"""fifo"""
