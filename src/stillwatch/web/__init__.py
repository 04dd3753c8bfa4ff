"""``stillwatch serve``: the analysts' dashboard and JSON API (FastAPI, server-rendered pages
with htmx; htmx and cytoscape.js ship inside the package). Its state lives in the casebook
(``engine/casebook.py``); the store is only read, for moments. See docs/web.md."""
