"""Collectors: one module per source shape; each turns raw responses into model records."""
