"""The HTTP gateway: ``/api/v1`` over :mod:`omium.services`, run by ``omium serve``.

``create_app`` (in :mod:`omium.gateway.app`) builds the FastAPI application; uvicorn runs
it as a factory, so nothing is opened at import.
"""
