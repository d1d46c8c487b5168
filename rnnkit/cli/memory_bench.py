"""rnnkit bench memory: the long-range memory tasks (issue 14)."""
