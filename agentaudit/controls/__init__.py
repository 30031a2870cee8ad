"""Controls: the catalog (data), the checks (pure functions) and the engine that runs them."""
