"""The docs site: a static site of every table (`rainforest docs build`), made from the specs,
the Delta logs, the run log, the quality results and the column lineage."""
