"""Benchmarks: each row is measured against a baseline taken in the same run. `make bench` runs them all."""
