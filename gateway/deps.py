"""What routes ask FastAPI for: the process's :class:`~omium.services.Omium`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from omium.services import Omium


def get_omium(request: Request) -> Omium:
    """The use cases' context, opened once when the app started (see ``create_app``)."""
    omium: Omium = request.app.state.omium
    return omium


OmiumDep = Annotated[Omium, Depends(get_omium)]
