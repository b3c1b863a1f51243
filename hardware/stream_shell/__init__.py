"""stream_shell"""
