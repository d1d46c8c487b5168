"""rnnkit serve and rnnkit bench serve: the streaming server and its load generator (issue 15)."""
