"""rainforest.orderitem, copied as ingested."""

from etl.core import SourceTable, source_spec


class OrderItem(SourceTable):
    """One row per order item, per ingestion date."""

    spec = source_spec("orderitem", key="orderitem_id")
