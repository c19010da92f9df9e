"""rainforest.clickstream, copied as ingested."""

from etl.core import SourceTable, source_spec


class Clickstream(SourceTable):
    """One row per clickstream event, per ingestion date."""

    spec = source_spec("clickstream", key="clickstream_id")
