"""The application layer: every use case the CLI and the gateway offer, once.

``cli/`` and ``gateway/`` parse arguments or map HTTP onto these functions and render what
they return; the typed response models here are the JSON contract of both faces.
"""

from omium.producers import Settings
from omium.services.context import Omium, bootstrap

__all__ = ["Omium", "Settings", "bootstrap"]
