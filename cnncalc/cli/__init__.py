"""The command line (typer): one module per command group on shared options."""
from .app import app

__all__ = ["app"]
