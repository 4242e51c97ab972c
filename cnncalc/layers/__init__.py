"""All layer types, one class each (docs/spec.md lists them). Importing this package registers them."""
# isort: off
from . import conv, pool, linear, reshape, norm, activation, merge, resample, tensor, detect, products  # noqa: F401  (registration order)
from . import interpolate, attention  # noqa: F401
# isort: on
from .base import (
                   REGISTRY,
                   RF,
                   Cells,
                   Layer,
                   LayerProblem,
                   activation_terms,
                   fused_activation_names,
                   layer_types,
                   register,
                   shared_use,
                   suggest_ops,
)

__all__ = ["REGISTRY", "RF", "Cells", "Layer", "LayerProblem", "activation_terms", "fused_activation_names",
           "layer_types", "register", "shared_use",
           "suggest_ops"]
