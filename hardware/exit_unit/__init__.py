"""exit_unit"""
