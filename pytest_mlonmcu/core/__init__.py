"""The bottom layer: imports nothing else of the package."""
