"""Bronze: the upstream tables as ingested, one snapshot per ingestion date."""
