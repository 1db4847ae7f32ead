"""seedlens benchmarks: quality on real data and speed. Not part of the test run; see ``python -m bench --help``."""
