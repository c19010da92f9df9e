"""rainforest.brand, logged change by change."""

from etl.core import SourceTable, source_spec


class Brand(SourceTable):
    """Changes of each upstream brand, one batch per run."""

    spec = source_spec("brand", key="brand_id")
