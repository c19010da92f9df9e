"""rainforest.orders, copied as ingested."""

from etl.core import SourceTable, source_spec


class Orders(SourceTable):
    """One row per upstream order, per ingestion date."""

    spec = source_spec("orders", key="order_id")
