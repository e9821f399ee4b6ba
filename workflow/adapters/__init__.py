"""Adapters: what connects the domain to the world.

The store (tables, connections, the event store, the outbox, the unit of work, migrations), the
configuration file, encryption, the system clock and structured logs. Database dialects are
told apart here and nowhere else.
"""
