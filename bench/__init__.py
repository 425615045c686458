"""The project's benchmarks: one script per measurement, and run_all.py to run them all.

A package (rather than loose scripts only) so the report code can be imported as bench.report
by the runner and by tests/unit/test_bench_report.py.
"""
