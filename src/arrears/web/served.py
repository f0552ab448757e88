"""The app of ``arrears serve --workers N``: each uvicorn worker process builds its own from
the environment the command set (``ARREARS_WORKSPACE``, and ``ARREARS_PORTFOLIO`` when
``--portfolio`` was given), its own store connections included."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from arrears import config
from arrears.web.app import create_app


def app() -> FastAPI:
    """The web app of the workspace in ``ARREARS_WORKSPACE`` (a uvicorn factory)."""
    return create_app(config.load(Path(os.environ["ARREARS_WORKSPACE"])))
