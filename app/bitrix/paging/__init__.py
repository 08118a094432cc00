"""Paging strategies: a protocol (steps.py), one module per strategy (keyset.py, offset.py,
by_id.py), the scheduler that runs their steps (scheduler.py) and the query they shape."""
