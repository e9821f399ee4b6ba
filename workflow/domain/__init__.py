"""The domain: the pure model of a pupil's support case.

The process definition and its loader, evidence kinds, guards, facts, events and the hash
chain's canonical form, the case aggregate, deadlines and the school-calendar rules. Nothing here
talks to a database, a mail server or the system clock, and nothing sets up logging: the whole
model can be driven and tested with plain objects.
"""
