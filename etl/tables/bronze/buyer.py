"""rainforest.buyer, logged change by change."""

from etl.core import SourceTable, source_spec


class Buyer(SourceTable):
    """Changes of each upstream buyer, one batch per run."""

    spec = source_spec("buyer", key="buyer_id")
