"""Signing in to the web app: links by e-mail, TOTP codes, OIDC flows, sessions, throttles.

Everything is kept by the store, behind its ports (`Users`, `WebSessions`, `SigninLinks`,
`OidcFlows`, `Throttle` in workflow.adapters.ports), so any number of `passend web` processes can
serve one school and a restart signs nobody out. The rules (how long a link or session lives,
what a code must be, how often one may try) are here; the web layer (workflow.entrypoints.web)
only carries tokens between the browser and these services.
"""
