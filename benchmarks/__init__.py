"""Benchmarks: our sync, a naive reference and two peer libraries against the fake portal."""
