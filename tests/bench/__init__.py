"""Speed benchmarks: scripts run by hand or by `make bench`, not pytest tests."""
