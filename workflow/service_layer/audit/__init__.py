"""The audit trail: verify the hash chains, replay cases, show timelines, export, check the law.

Each concept is its own module so the CLI imports only what a command needs. Everything here
reads; the only writes are the system's own access records and the erasure of a case's key.
"""
