"""Delta protocol encodings that need no Spark: schemas, partition values, paths, file statistics.

Kept free of Spark and of I/O so that executors import it cheaply and unit tests can pin the
protocol details (delta-rs and Spark both read what these functions produce).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
"""Directory value of a null partition, as Spark, Hive and delta-rs spell it."""

STATS_STRING_PREFIX = 32
"""Longest string kept in min/max statistics, as Delta writers do; longer maxima are omitted."""

_FLOAT_EXACT_DIGITS = 15
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DAY = dt.date(1970, 1, 1)
# Characters Spark's `ExternalCatalogUtils.escapePathName` escapes, plus the space that
# delta-rs escapes; Spark's partition discovery decodes any `%XX`, so both readers agree.
_PATH_UNSAFE = frozenset("\x7f\"#%*/:=?\\{[]^ '") | frozenset(chr(c) for c in range(1, 32))


def delta_type(arrow_type: pa.DataType) -> pa.DataType:
    """The Arrow type delta-rs accepts for `arrow_type`.

    delta-rs only knows microsecond timestamps in "UTC" (it rejects "Etc/UTC", which Spark
    may send); nested types are normalised field by field.
    """
    if pa.types.is_timestamp(arrow_type):
        return pa.timestamp("us", tz="UTC" if arrow_type.tz else None)
    if pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return pa.string()
    if pa.types.is_large_binary(arrow_type) or pa.types.is_binary_view(arrow_type):
        return pa.binary()
    if pa.types.is_struct(arrow_type):
        return pa.struct([delta_field(arrow_type.field(i)) for i in range(arrow_type.num_fields)])
    if pa.types.is_map(arrow_type):
        return pa.map_(delta_type(arrow_type.key_type), delta_field(arrow_type.item_field))
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return pa.list_(delta_field(arrow_type.value_field))
    return arrow_type


def delta_field(field: pa.Field) -> pa.Field:
    """A nullable field of the normalised type: like Spark's Parquet sources, the lake never
    declares columns non-null, so appends and schema merges never trip over nullability."""
    return pa.field(field.name, delta_type(field.type), nullable=True)


def delta_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([delta_field(field) for field in schema])


def merge_schemas(current: pa.Schema, incoming: pa.Schema) -> pa.Schema:
    """`current` followed by the columns only `incoming` has; shared columns must agree on type.

    Raises `ValueError` naming the column when a type changed, so that the caller can say
    which write would have corrupted the table.
    """
    merged = list(current)
    for field in incoming:
        index = current.get_field_index(field.name)
        if index < 0:
            merged.append(field)
        elif not current.field(index).type.equals(field.type):
            raise ValueError(
                f"column {field.name!r} is {current.field(index).type} in the table "
                f"but {field.type} in the new data"
            )
    return pa.schema(merged)


def encode_partition_value(value: object) -> str | None:
    """A partition value in Delta's string serialisation (`partitionValues` of an add action).

    Empty strings become null, as Spark writes them: a directory cannot be named `col=`.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int | str):
        return str(value)
    raise TypeError(f"cannot partition by a value of type {type(value).__name__}")


def decode_partition_value(text: str | None, arrow_type: pa.DataType) -> object:
    """The typed value of a Delta partition string; the inverse of `encode_partition_value`."""
    if text is None or (text == "" and not pa.types.is_string(arrow_type)):
        return None
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return text or None
    if pa.types.is_boolean(arrow_type):
        return text.lower() == "true"
    if pa.types.is_integer(arrow_type):
        return int(text)
    if pa.types.is_floating(arrow_type):
        return float(text)
    if pa.types.is_decimal(arrow_type):
        return Decimal(text)
    if pa.types.is_date(arrow_type):
        return dt.date.fromisoformat(text)
    if pa.types.is_timestamp(arrow_type):
        parsed = dt.datetime.fromisoformat(text)
        if arrow_type.tz is None:
            return parsed.replace(tzinfo=None)
        return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed
    raise TypeError(f"cannot partition by a column of type {arrow_type}")


def escape_path_name(text: str) -> str:
    """Percent-escape what cannot stand in a `col=value` directory name."""
    return "".join(f"%{ord(char):02X}" if char in _PATH_UNSAFE else char for char in text)


def partition_dir(partition_values: Mapping[str, str | None]) -> str:
    """Hive-style relative directory (`a=1/b=x`) of encoded partition values, `""` if none."""
    return "/".join(
        f"{escape_path_name(name)}={HIVE_NULL if text is None else escape_path_name(text)}"
        for name, text in partition_values.items()
    )


def parse_partition_dir(relative_path: str) -> dict[str, str | None]:
    """Encoded partition values from a file's hive-style path; non `k=v` segments are skipped."""
    values: dict[str, str | None] = {}
    for segment in relative_path.split("/")[:-1]:
        name, sep, text = segment.partition("=")
        if sep:
            values[unquote(name)] = None if text == HIVE_NULL else unquote(text)
    return values


def file_path(log_relative_path: str) -> str:
    """The storage path of a data file named in the log, where it is a URI reference.

    delta-rs encodes the paths of the actions it is given, and returns them encoded.
    """
    return unquote(log_relative_path)


def file_stats(metadata: pq.FileMetaData, schema: pa.Schema) -> str:
    """Delta column statistics (JSON) of one data file, from its Parquet footer alone.

    Only top-level primitive columns get statistics; `schema` lists the columns stored in the
    file (partition columns are not, so they get none, as the protocol requires). Minima and
    maxima are omitted where a reader could be misled: truncated string maxima, booleans,
    binaries, decimals a double cannot hold exactly, and NaN-bearing floats.
    """
    stats = _column_stats(metadata, schema)
    mins = {name: value[0] for name, value in stats.items() if value[0] is not None}
    maxes = {name: value[1] for name, value in stats.items() if value[1] is not None}
    nulls = {name: value[2] for name, value in stats.items() if value[2] is not None}
    return json.dumps(
        {
            "numRecords": metadata.num_rows,
            "minValues": mins,
            "maxValues": maxes,
            "nullCount": nulls,
        },
        separators=(",", ":"),
    )


def _column_stats(
    metadata: pq.FileMetaData, schema: pa.Schema
) -> dict[str, tuple[Any, Any, int | None]]:
    columns: dict[str, int] = {}
    row_group_count = metadata.num_row_groups
    if row_group_count:
        first = metadata.row_group(0)
        for index in range(first.num_columns):
            path = first.column(index).path_in_schema
            if "." not in path:
                columns[path] = index
    result: dict[str, tuple[Any, Any, int | None]] = {}
    for field in schema:
        index = columns.get(field.name)
        if index is None or not _has_simple_stats(field.type):
            continue
        low: Any = None
        high: Any = None
        nulls: int | None = 0
        min_max_known = True
        for group in range(row_group_count):
            chunk = metadata.row_group(group).column(index)
            statistics = chunk.statistics
            if statistics is None:
                nulls, min_max_known = None, False
                break
            if nulls is not None:
                nulls = nulls + statistics.null_count if statistics.has_null_count else None
            if chunk.num_values == statistics.null_count:
                continue
            if not statistics.has_min_max:
                min_max_known = False
                continue
            chunk_low, chunk_high = _typed_min_max(statistics, field.type)
            low = chunk_low if low is None else min(low, chunk_low)
            high = chunk_high if high is None else max(high, chunk_high)
        if not min_max_known or low is None:
            low = high = None
        result[field.name] = (*_json_min_max(low, high, field.type), nulls)
    return result


def _has_simple_stats(arrow_type: pa.DataType) -> bool:
    return not (
        pa.types.is_nested(arrow_type)
        or pa.types.is_dictionary(arrow_type)
        or pa.types.is_null(arrow_type)
    )


def _typed_min_max(statistics: pq.Statistics, arrow_type: pa.DataType) -> tuple[Any, Any]:
    # Raw integers are exact for timestamps and dates whatever the logical-type conversion does.
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date32(arrow_type):
        return statistics.min_raw, statistics.max_raw
    return statistics.min, statistics.max


def _json_min_max(low: Any, high: Any, arrow_type: pa.DataType) -> tuple[Any, Any]:
    if low is None or pa.types.is_boolean(arrow_type) or pa.types.is_binary(arrow_type):
        return None, None
    if pa.types.is_timestamp(arrow_type):
        # Delta stores timestamp statistics with millisecond precision; readers widen by 1 ms.
        unit = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0.001}[arrow_type.unit]
        return _timestamp_text(low * unit, arrow_type), _timestamp_text(high * unit, arrow_type)
    if pa.types.is_date32(arrow_type):
        return (
            (_EPOCH_DAY + dt.timedelta(days=low)).isoformat(),
            (_EPOCH_DAY + dt.timedelta(days=high)).isoformat(),
        )
    if pa.types.is_decimal(arrow_type):
        if arrow_type.precision > _FLOAT_EXACT_DIGITS:
            return None, None
        return float(low), float(high)
    if pa.types.is_floating(arrow_type):
        if math.isnan(low) or math.isnan(high):
            return None, None
        return low, high
    if isinstance(low, bytes | str):
        low_text = low.decode("utf-8", "replace") if isinstance(low, bytes) else low
        high_text = high.decode("utf-8", "replace") if isinstance(high, bytes) else high
        truncated_high = len(high_text) > STATS_STRING_PREFIX
        return low_text[:STATS_STRING_PREFIX], None if truncated_high else high_text
    return low, high


def _timestamp_text(micros: float, arrow_type: pa.TimestampType) -> str:
    millis = math.floor(micros / 1000)
    moment = _EPOCH + dt.timedelta(milliseconds=millis)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    return text + "Z" if arrow_type.tz else text


def partition_matches(values: Mapping[str, object], wanted: Mapping[str, object]) -> bool:
    """Whether a file's typed partition values equal every wanted value (None matches null)."""
    return all(_same_value(values.get(name), value) for name, value in wanted.items())


def _same_value(actual: object, wanted: object) -> bool:
    return comparable(actual) == comparable(wanted)


def comparable(value: object) -> object:
    """`value` with datetimes made UTC-aware, so that Spark's and delta-rs's values compare."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return value
