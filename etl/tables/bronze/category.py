"""rainforest.category, logged change by change."""

from etl.core import SourceTable, source_spec


class Category(SourceTable):
    """Changes of each upstream product category, one batch per run."""

    spec = source_spec("category", key="category_id")
