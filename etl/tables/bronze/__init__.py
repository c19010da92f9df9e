"""Bronze: the upstream tables as change logs, one batch of changes per run."""
