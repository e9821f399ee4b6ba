"""`passend web`: the browser app for the IB, leerkracht, directeur and auditor.

FastAPI (on Starlette) with Jinja2 pages rendered on the server, htmx served from `static/`,
uvicorn as the server. FastAPI rather than bare Starlette because the JSON API under /api/v1
(the `api` package) gets its OpenAPI schema from it; the pages use plain Starlette responses.
Modules: `app` (the factory), `webcontext` (what a request may need: `app.state.web`),
`security` (headers, cookies, client IP), `guard` (who is signed in, CSRF,
read-only roles), `pages` (templates), `signin` and `oidc` (the sign-in routes), `returnto` (back
to the page asked for after sign-in), `home`; the work
pages `work` (Mijn werk), `caseload` (Leerlingen), `casepage` (Casus, preview and confirmation,
the diagram's route), `newcase` (Nieuwe casus), with `forms` (forms from the evidence
declarations), `diagram` (the process as SVG) and `filters` (Dutch dates for the templates); the
overviews `directie` (Directie) and `audit` (Audit), with `charts` (bar charts as SVG).
Route modules import `webcontext`, never `app` (which imports them). Every request that needs a
user acts as the signed-in user from the server-side session; no route takes a user id from the
browser. The API's routes act as their bearer token instead (`api.auth`), never as a session.
"""
