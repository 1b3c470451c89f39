"""Benchmarks: cold start, conversion time, peak memory and throughput, each against its floor.

Run ``python -m bench [--quick] [--json FILE]`` with ``PYTHONPATH=lambda_src:.``; the figures and
what they mean are in ``docs/performance.md``.
"""
