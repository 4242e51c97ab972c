"""Renderers: a Report in to text out. They read plain row data and never look at layer types."""
from .lecture import lecture_markdown, lecture_table
from .machine import to_csv, to_json

__all__ = ["lecture_markdown", "lecture_table", "to_csv", "to_json"]
