"""The bot: foundations (config, db, models, content) at the top, and its rooms below (see docs/architecture.md)."""
