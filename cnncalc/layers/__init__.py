"""All layer types. Importing this package registers them."""
from . import conv, pool, linear, reshape, norm, activation, merge, resample  # noqa: F401  (registration order)
from .base import REGISTRY, RF, Cells, Layer, LayerProblem, layer_types, register

__all__ = ["REGISTRY", "RF", "Cells", "Layer", "LayerProblem", "layer_types", "register"]
