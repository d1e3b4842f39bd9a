"""The one scheduler process (`flask scheduler run`): every job declared in
`registry.JOBS` with a stable id. Web processes never import this package."""
