"""CloudTrail recorder (being built)."""
