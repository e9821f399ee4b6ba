"""Made-up data: one demo case walked to an adopted OPP, and whole demo populations.

Kept out of the product's import path: only `passend demo` and the benchmarks import it.
"""
