"""Gold: one-big-tables and daily metrics."""
