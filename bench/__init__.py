"""Benchmarks (``ehx bench``): measured side by side with a bare baseline, reported as medians."""

from bench.run import run_benchmarks

__all__ = ["run_benchmarks"]
