"""Built-in checks, one module per control family group. Each is a pure function of a Context."""
