"""Stage 2: a YAML file becomes a Spec (located values, safe expressions, variables, blocks) and
then a Graph of layers; the bundled zoo is looked up here. Imports core and layers."""
