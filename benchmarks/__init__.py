"""Benchmarks that print figures: `python -m benchmarks` runs them all,
`python -m benchmarks.<name>` one of them."""
