"""Benchmarks of the portal server, run from the repo root (`make bench`); they only print."""
