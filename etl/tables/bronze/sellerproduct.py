"""rainforest.sellerproduct, logged change by change."""

from etl.core import SourceTable, source_spec


class SellerProduct(SourceTable):
    """Changes of each seller-product listing, one batch per run."""

    spec = source_spec("sellerproduct", key="sellerproduct_id")
