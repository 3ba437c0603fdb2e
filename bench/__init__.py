"""Benchmarks: scripts that print figures and ratios against a baseline taken in the same run."""
