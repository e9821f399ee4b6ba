"""Witnessing outside the store: a daily root over every case's head, sent to witnesses.

`settings` (`[witness]`), `record` (the root as the witnesses keep it, and reading it back from
mails and files), `roots` (computing and storing a root, planning its mails), `tsa` (RFC 3161
timestamps), `check` (`passend audit verify --witness`), `proofs` (the export's inclusion proofs).
"""
