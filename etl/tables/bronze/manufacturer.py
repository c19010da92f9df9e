"""rainforest.manufacturer, logged change by change."""

from etl.core import SourceTable, source_spec


class Manufacturer(SourceTable):
    """Changes of each upstream manufacturer, one batch per run."""

    spec = source_spec("manufacturer", key="manufacturer_id")
