"""Benchmarks of passend, each measured side by side with its baselines in one run.

Absolute times drift on a shared machine; ratios taken in the same run, interleaved in rounds,
do much less. Every benchmark is a module here with `main(argv) -> dict` and is run as
`python -m bench NAME [options]`; it prints exactly one JSON line of figures on stdout
(progress and logs go to stderr). BENCHMARKS.md holds the latest figures and how to reproduce them.
"""
