"""All layer types. Importing this package registers them."""
from . import activation, conv, linear, norm, pool, reshape  # noqa: F401  (registration)
from .base import REGISTRY, Cells, Layer, LayerProblem, layer_types, register

__all__ = ["REGISTRY", "Cells", "Layer", "LayerProblem", "layer_types", "register"]
