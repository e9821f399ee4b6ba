"""Entry points: the thin shells people and processes start passend through.

`cli` is the `passend` command line; `serve` runs the reminder service on a schedule. Each turns
its input into a call on the service layer and its result into output, and nothing more.
"""
