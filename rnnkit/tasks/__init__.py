"""Tasks: thin recipes that assemble data, models and training for each application."""
