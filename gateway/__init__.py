"""The HTTP API (coming): FastAPI routes, SSE streams and the dashboard, HTTP mapping only.

Will import the use cases (``services``, today :mod:`omium.processors`) and
:mod:`omium.schemas`, never the adapters.
"""
