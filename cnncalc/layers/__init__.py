"""All layer types. Importing this package registers them."""
from . import conv, pool, linear, reshape, norm, activation  # noqa: F401  (registration, in table order)
from .base import REGISTRY, Cells, Layer, LayerProblem, layer_types, register

__all__ = ["REGISTRY", "Cells", "Layer", "LayerProblem", "layer_types", "register"]
