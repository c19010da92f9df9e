"""rainforest.appuser, logged change by change."""

from etl.core import SourceTable, source_spec


class AppUser(SourceTable):
    """Changes of each upstream application user, one batch per run."""

    spec = source_spec("appuser", key="user_id")
