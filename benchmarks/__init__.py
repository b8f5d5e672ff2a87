"""Speed benchmarks (not tests): ``make bench`` runs them and prints JSON lines."""
