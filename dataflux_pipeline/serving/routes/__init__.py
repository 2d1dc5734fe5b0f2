"""HTTP routes, one module per resource; shared dependencies are in `serving.deps`."""
