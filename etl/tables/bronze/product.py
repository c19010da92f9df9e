"""rainforest.product, copied as ingested."""

from etl.core import SourceTable, source_spec


class Product(SourceTable):
    """One row per upstream product, per ingestion date."""

    spec = source_spec("product", key="product_id")
