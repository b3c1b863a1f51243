"""folded"""
