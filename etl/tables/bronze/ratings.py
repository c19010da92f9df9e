"""rainforest.ratings, copied as ingested."""

from etl.core import SourceTable, source_spec


class Ratings(SourceTable):
    """One row per product rating, per ingestion date."""

    spec = source_spec("ratings", key="rating_id")
