"""agentaudit: compliance evidence and access-review packs for AI agents and other NHIs."""

__version__ = "0.1.0"
