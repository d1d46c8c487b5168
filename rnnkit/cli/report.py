"""rnnkit report: the HTML report of a run folder (issue 14)."""
