"""Real services and their definitions.

The Kafka broker scripts (``infra/kafka``), the topic definitions
(:mod:`omium.infra.topics`) and the generated AsyncAPI document.

Nothing here imports the rest of omium; the rest may read these definitions.
"""
