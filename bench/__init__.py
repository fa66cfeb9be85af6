"""Benchmarks: nexy-stream side by side with bare grpcio and the legacy endpoint.

``python -m bench`` (``make bench``) starts each server as a process of its own on a free
loopback port, drives it from client processes of their own, prints the ratios measured in
the same run, and writes bench/results.json. Only the ratios travel between machines.
"""
