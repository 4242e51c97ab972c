"""Stage 0, shared by every later stage: errors with locations, numbers and units, shapes,
formulas that carry their derivation, symbolic sizes, file input/output. Imports nothing of cnncalc."""
