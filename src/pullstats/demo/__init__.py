"""Demo data: seeded synthetic registry traffic for ``pullstats demo``, tests and benchmarks."""
