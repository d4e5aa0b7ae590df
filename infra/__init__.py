"""Real services: the Kafka broker scripts (``infra/kafka``) and the published contract.

``asyncapi.yaml`` and ``schemas/*.json`` are generated from :mod:`omium.schemas` by
``omium schemas export``; the topics themselves are defined in :mod:`omium.schemas.topics`.

No Python here imports omium, and omium imports nothing from here (import-linter checks).
"""
