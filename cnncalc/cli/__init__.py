"""Stage 7, the command line (typer): app.py holds the app and the shared options; each other
module adds one group of commands. Imports every earlier stage, most of it inside the commands."""
# isort: off
from . import table, catalog, grade, torch, memory, budget  # noqa: F401  (each registers its commands, in the order of --help)
from . import visual  # noqa: F401
from . import imports  # noqa: F401
# isort: on
from .app import app, one_line_summaries

one_line_summaries(app)

__all__ = ["app"]
