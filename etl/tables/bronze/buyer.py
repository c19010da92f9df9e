"""rainforest.buyer, copied as ingested."""

from etl.core import SourceTable, source_spec


class Buyer(SourceTable):
    """One row per upstream buyer, per ingestion date."""

    spec = source_spec("buyer", key="buyer_id")
