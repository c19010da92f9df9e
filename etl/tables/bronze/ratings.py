"""rainforest.ratings, logged change by change."""

from etl.core import SourceTable, source_spec


class Ratings(SourceTable):
    """Changes of each product rating, one batch per run."""

    spec = source_spec("ratings", key="rating_id")
