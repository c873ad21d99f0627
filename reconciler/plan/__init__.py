"""The plan stage (pure): desired against live objects, the prune guards, the health gate."""
