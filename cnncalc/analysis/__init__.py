"""Stage 3: the engine walks a Graph and asks each layer for its numbers; the Report holds them,
counted under a convention; explain derives each number. Imports core, layers and spec."""
