"""rainforest.clickstream, logged change by change."""

from etl.core import SourceTable, source_spec


class Clickstream(SourceTable):
    """Changes of each clickstream event, one batch per run."""

    spec = source_spec("clickstream", key="clickstream_id")
