"""Benchmarks: cold start, conversion time, peak memory and throughput, each against its floor.

Run ``.venv/bin/python -m bench [--quick] [--json FILE]`` from the repository's root; the figures
and what they mean are in ``docs/performance.md``.
"""
