"""Data quality: rules declared with a table, checked before it is written.

Declare rules in `TableSpec.rules` with the constructors of `rules` (table files import them
from `etl.core`); `Table.validate` checks them (`engine`), the run publishes their results
(`results`) and GX Data Docs (`gx`).
"""
