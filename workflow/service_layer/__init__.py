"""The service layer: every command and query a person or a process can ask of passend.

Each command runs in one unit of work (one transaction, all or nothing), checks who asks and
what the evidence allows, and leaves the store as it was when anything fails. Entry points (the
command line, the reminder service, the web app) are thin shells over this layer.
"""
