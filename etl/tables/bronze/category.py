"""rainforest.category, copied as ingested."""

from etl.core import SourceTable, source_spec


class Category(SourceTable):
    """One row per upstream product category, per ingestion date."""

    spec = source_spec("category", key="category_id")
