"""rainforest.product, logged change by change."""

from etl.core import SourceTable, source_spec


class Product(SourceTable):
    """Changes of each upstream product, one batch per run."""

    spec = source_spec("product", key="product_id")
