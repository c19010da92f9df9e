"""rainforest.seller, logged change by change."""

from etl.core import SourceTable, source_spec


class Seller(SourceTable):
    """Changes of each upstream seller, one batch per run."""

    spec = source_spec("seller", key="seller_id")
