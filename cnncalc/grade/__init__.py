"""Stage 4: students' answer sheets read and graded against a Report. Imports core to analysis."""
