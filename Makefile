# Developer shortcuts; CI runs .ci/run.
.PHONY: bench bench-quick

# Benchmark suites and load runs; writes the generated section of BENCHMARKS.md.
bench:
	scripts/bench

bench-quick:
	scripts/bench -quick -no-write
