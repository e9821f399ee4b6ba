"""Adapters to the database: tables, connections, the event store and the unit of work."""
