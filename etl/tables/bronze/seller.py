"""rainforest.seller, copied as ingested."""

from etl.core import SourceTable, source_spec


class Seller(SourceTable):
    """One row per upstream seller, per ingestion date."""

    spec = source_spec("seller", key="seller_id")
