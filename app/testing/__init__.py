"""A fake Bitrix24 portal for the demo, the tests and the benchmark, and its sample data."""
