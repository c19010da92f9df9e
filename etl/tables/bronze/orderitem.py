"""rainforest.orderitem, logged change by change."""

from etl.core import SourceTable, source_spec


class OrderItem(SourceTable):
    """Changes of each order item, one batch per run."""

    spec = source_spec("orderitem", key="orderitem_id")
