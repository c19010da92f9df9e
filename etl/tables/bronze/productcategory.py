"""rainforest.productcategory, logged change by change."""

from etl.core import SourceTable, source_spec


class ProductCategory(SourceTable):
    """Changes of each product-category link, one batch per run."""

    spec = source_spec("productcategory", key="productcategory_id")
