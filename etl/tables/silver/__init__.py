"""Silver: cleaned facts, dimensions and bridges."""
