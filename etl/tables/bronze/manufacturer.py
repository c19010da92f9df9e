"""rainforest.manufacturer, copied as ingested."""

from etl.core import SourceTable, source_spec


class Manufacturer(SourceTable):
    """One row per upstream manufacturer, per ingestion date."""

    spec = source_spec("manufacturer", key="manufacturer_id")
