"""HTTP routes, one module per area; each exposes `router`. A route is a few lines over the
library, takes its user from `os1.server.deps`, and opens only that user's store."""
