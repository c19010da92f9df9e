"""rainforest.productcategory, copied as ingested."""

from etl.core import SourceTable, source_spec


class ProductCategory(SourceTable):
    """One row per product-category link, per ingestion date."""

    spec = source_spec("productcategory", key="productcategory_id")
