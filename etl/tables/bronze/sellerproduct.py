"""rainforest.sellerproduct, copied as ingested."""

from etl.core import SourceTable, source_spec


class SellerProduct(SourceTable):
    """One row per seller-product listing, per ingestion date."""

    spec = source_spec("sellerproduct", key="sellerproduct_id")
