"""rainforest.brand, copied as ingested."""

from etl.core import SourceTable, source_spec


class Brand(SourceTable):
    """One row per upstream brand, per ingestion date."""

    spec = source_spec("brand", key="brand_id")
