"""rainforest.appuser, copied as ingested."""

from etl.core import SourceTable, source_spec


class AppUser(SourceTable):
    """One row per upstream application user, per ingestion date."""

    spec = source_spec("appuser", key="user_id")
