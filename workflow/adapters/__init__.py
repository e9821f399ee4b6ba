"""Adapters: what connects the domain and the services to the world.

`ports` names what the service layer may ask of storage; `store/` is the SQL store (SQLite and
PostgreSQL: tables, connections, the event store, the case read model, the access log, the
outbox, the unit of work, migrations) and `memory` the in-memory fake of the same ports;
`readmodels` are the SQLModel classes the queries return. Besides storage: the configuration
file, encryption, the system clock and structured logs. Database dialects are told apart here,
in `store/`, and nowhere else.
"""
