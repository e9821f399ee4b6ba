"""Signing in to the web app: links by e-mail, TOTP codes, OIDC flows, sessions, throttles.

Everything is kept in the database (adapters.store.tables), so any number of `passend web`
processes can serve one school and a restart signs nobody out. The web layer
(workflow.entrypoints.web) only carries tokens between the browser and these services.
"""
