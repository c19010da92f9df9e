"""rainforest.orders, logged change by change."""

from etl.core import SourceTable, source_spec


class Orders(SourceTable):
    """Changes of each upstream order, one batch per run."""

    spec = source_spec("orders", key="order_id")
