"""Quality rules: a Great Expectations expectation, a severity and a name, declared with a table.

A table lists its rules in `TableSpec.rules`; the constructors below keep that list short::

    rules=(
        between("quantity", 1, name="quantity_at_least_one"),
        references("product_id", "dim_product"),
        unique("order_id", severity="fail"),
    )

Every rule is also a Spark condition or count, so that a table's rules are checked together
in one pass over its data (see `engine`); `expect` takes any other GX expectation, which
Great Expectations itself evaluates on the Spark DataFrame.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from etl.core.names import check_snake_case

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation
    from pyspark.sql import Column, DataFrame

Severity = Literal["warn", "drop", "fail"]
"""`warn`: recorded, the rows are written. `drop`: rows that break it go to quarantine, the
others on. `fail`: nothing of the table is written and its downstream tables are not built."""

Kind = Literal["row", "unique", "expectation"]
"""How a rule is checked: a condition per row, a uniqueness count, or by GX on the DataFrame."""

RowTest = Callable[["RowScope"], "Column"]
Prepare = Callable[["DataFrame", Mapping[str, "DataFrame"], str], "DataFrame"]

UNIQUE_VALUES = "ExpectColumnValuesToBeUnique"
UNIQUE_COMBINATIONS = "ExpectCompoundColumnsToBeUnique"
UNIQUENESS = frozenset({UNIQUE_VALUES, UNIQUE_COMBINATIONS})
"""The GX expectations that say rows are unique in some columns: `unique`'s, and `first_of`'s,
which keeps one row of each group."""

EMAIL = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
"""A well-formed address: one @, no spaces, a dot and a top-level domain in the host."""


@dataclass(frozen=True)
class Trace:
    """How a rule's verdict on a row depends on another table: rows whose `column` holds a
    value that changed in `upstream.upstream_column` must be judged again. With `presence`,
    only values that appeared or disappeared there count (a reference), not changed rows."""

    upstream: str
    upstream_column: str
    column: str
    presence: bool = False


@dataclass(frozen=True)
class RowScope:
    """What a row test may use besides the row: the run's time and its own helper column."""

    now: datetime
    helper: str


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One named expectation with a severity; build it with the constructors of this module."""

    name: str
    severity: Severity
    expectation: str
    """The GX expectation class (in `great_expectations.expectations`) this rule is."""
    kwargs: tuple[tuple[str, Any], ...]
    columns: tuple[str, ...]
    """The columns shown as examples of offending rows."""
    description: str
    kind: Kind = "row"
    test: RowTest | None = field(default=None, compare=False)
    """Row rules: True where the row passes (null counts as passing)."""
    prepare: Prepare | None = field(default=None, compare=False)
    """Rules that look at another table: adds the helper column the test reads."""
    needs: tuple[str, ...] = ()
    """Upstream tables `prepare` joins; the table must list them in `upstream`."""
    subject: str = ""
    """How messages name the checked columns, e.g. "primary key (order_id)"."""
    at_run_time: tuple[str, ...] = ()
    """kwargs whose value is the run's time, filled in when the rule is checked."""
    groups: tuple[str, ...] = ()
    """Rows equal in these columns are judged together (`unique`, `first_of`)."""
    traces: tuple[Trace, ...] = ()
    """The other tables whose changes change verdicts here (`references`, `sum_of`)."""

    def __post_init__(self) -> None:
        check_snake_case(self.name, what="Rule name")
        if self.severity == "drop" and self.kind != "row":
            raise ValueError(
                f"Rule {self.name!r} judges the table as a whole, so it cannot drop rows: "
                "make it warn or fail."
            )
        if self.kind == "row" and self.test is None:
            raise ValueError(f"Row rule {self.name!r} needs a test")

    def gx_expectation(self, now: datetime) -> Expectation:
        """The rule as a GX expectation, for Great Expectations to check or to document."""
        import great_expectations.expectations as gxe

        kwargs = dict(self.kwargs)
        kwargs.update({key: now for key in self.at_run_time})
        cls = getattr(gxe, self.expectation)
        meta = {"rule": self.name, "severity": self.severity}
        return cls(**kwargs, meta=meta, description=self.description)  # type: ignore[no-any-return]


@dataclass(frozen=True, kw_only=True)
class RuleResult:
    """One rule's outcome on one table in one run: a row of `ops/dq_results`."""

    table: str
    rule: str
    severity: Severity
    expectation: str
    success: bool
    unexpected_count: int | None
    element_count: int | None
    observed_value: str | None = None
    description: str = ""


def not_null(*columns: str, severity: Severity = "fail", name: str | None = None) -> Rule:
    """Every listed column holds a value."""
    from pyspark.sql import functions as F

    cols = _columns(columns)

    def test(_: RowScope) -> Column:
        return _all([F.col(c).isNotNull() for c in cols])

    return Rule(
        name=name or f"{'_'.join(cols)}_not_null",
        severity=severity,
        expectation="ExpectColumnValuesToNotBeNull",
        kwargs=(("column", ", ".join(cols)),),
        columns=cols,
        description=f"{', '.join(cols)} never null",
        test=test,
        subject=f"({', '.join(cols)})",
    )


def unique(*columns: str, severity: Severity = "fail", name: str | None = None) -> Rule:
    """No two rows share the values of `columns` (together)."""
    cols = _columns(columns)
    single = len(cols) == 1
    return Rule(
        name=name or f"{'_'.join(cols)}_unique",
        severity=severity,
        expectation=UNIQUE_VALUES if single else UNIQUE_COMBINATIONS,
        kwargs=(("column", cols[0]),) if single else (("column_list", list(cols)),),
        columns=cols,
        description=f"no two rows share ({', '.join(cols)})",
        kind="unique",
        subject=f"({', '.join(cols)})",
        groups=cols,
    )


def between(
    column: str,
    min_value: float | Decimal | None = None,
    max_value: float | Decimal | None = None,
    *,
    strict_min: bool = False,
    strict_max: bool = False,
    severity: Severity = "drop",
    name: str | None = None,
) -> Rule:
    """`column` lies within the bounds; a bound left out is open, `strict_*` excludes it.

    Example: `between("price_usd", 0, strict_min=True)` is "price > 0".
    """
    from pyspark.sql import functions as F

    if min_value is None and max_value is None:
        raise ValueError(f"between({column!r}) needs a min_value or a max_value")

    def test(_: RowScope) -> Column:
        value = F.col(column)
        checks = []
        if min_value is not None:
            low = F.lit(min_value)
            checks.append(value > low if strict_min else value >= low)
        if max_value is not None:
            high = F.lit(max_value)
            checks.append(value < high if strict_max else value <= high)
        return _all(checks)

    bounds = [
        f"{'>' if strict_min else '>='} {min_value}" if min_value is not None else "",
        f"{'<' if strict_max else '<='} {max_value}" if max_value is not None else "",
    ]
    kwargs: dict[str, Any] = {"column": column}
    if min_value is not None:
        kwargs.update(min_value=min_value, strict_min=strict_min)
    if max_value is not None:
        kwargs.update(max_value=max_value, strict_max=strict_max)
    return Rule(
        name=name or f"{column}_in_range",
        severity=severity,
        expectation="ExpectColumnValuesToBeBetween",
        kwargs=tuple(kwargs.items()),
        columns=(column,),
        description=f"{column} {' and '.join(b for b in bounds if b)}",
        test=test,
    )


def in_set(
    column: str, values: Sequence[object], *, severity: Severity = "drop", name: str | None = None
) -> Rule:
    """`column` is one of `values`."""
    from pyspark.sql import functions as F

    allowed = list(values)
    return Rule(
        name=name or f"{column}_known",
        severity=severity,
        expectation="ExpectColumnValuesToBeInSet",
        kwargs=(("column", column), ("value_set", allowed)),
        columns=(column,),
        description=f"{column} in {allowed}",
        test=lambda _: F.col(column).isin(allowed),
    )


def matches(
    column: str, regex: str, *, severity: Severity = "drop", name: str | None = None
) -> Rule:
    """`column` matches the regular expression (Java syntax in Spark; keep it portable)."""
    from pyspark.sql import functions as F

    return Rule(
        name=name or f"{column}_well_formed",
        severity=severity,
        expectation="ExpectColumnValuesToMatchRegex",
        kwargs=(("column", column), ("regex", regex)),
        columns=(column,),
        description=f"{column} matches {regex}",
        test=lambda _: F.col(column).rlike(regex),
    )


def not_in_future(column: str, *, severity: Severity = "drop", name: str | None = None) -> Rule:
    """`column` (a timestamp) is not later than the run's start."""
    from pyspark.sql import functions as F

    return Rule(
        name=name or f"{column}_not_in_future",
        severity=severity,
        expectation="ExpectColumnValuesToBeBetween",
        kwargs=(("column", column),),
        columns=(column,),
        description=f"{column} not after the run's start",
        test=lambda scope: F.col(column) <= F.lit(scope.now),
        at_run_time=("max_value",),
    )


def references(
    column: str,
    table: str,
    key: str | None = None,
    *,
    severity: Severity = "drop",
    name: str | None = None,
) -> Rule:
    """Every non-null `column` is found in `table.key` (default: a key of the same name).

    `table` must be one of the table's `upstream`; the framework joins it, so the transform
    need not take it.
    """
    from pyspark.sql import functions as F

    target = key or column

    def prepare(data: DataFrame, inputs: Mapping[str, DataFrame], helper: str) -> DataFrame:
        # An EXISTS subquery becomes an existence join: it flags each row without first
        # deduplicating the other table's keys, which a plain join needs (a shuffle and a job).
        # The outer column goes by a name the other table cannot have: Spark resolves a name
        # in the subquery's own columns first.
        outer_key = f"{helper}_key"
        found = inputs[table].where(F.col(target) == F.col(outer_key).outer()).exists()
        return data.withColumn(outer_key, F.col(column)).withColumn(helper, found).drop(outer_key)

    return Rule(
        name=name or f"{column}_in_{table}",
        severity=severity,
        expectation="ExpectColumnValuesToNotBeNull",
        kwargs=(("column", f"{column} found in {table}.{target}"),),
        columns=(column,),
        description=f"{column} is found in {table}.{target}",
        test=lambda scope: F.col(column).isNull() | F.col(scope.helper),
        prepare=prepare,
        needs=(table,),
        traces=(Trace(table, target, column, presence=True),),
    )


@dataclass(frozen=True)
class SumOf:
    """Per key, the sum of an amount over another table's rows: see `sum_of`."""

    table: str
    key: str
    amount: Callable[[DataFrame], Column]


def sum_of(table: str, *, key: str, amount: Callable[[DataFrame], Column]) -> SumOf:
    """The sum of `amount(rows)` over `table`'s rows with the same `key`, for `equals_within`.

    Example: `sum_of("orderitem", key="order_id", amount=lambda t: t.quantity * t.base_price)`.
    """
    return SumOf(table=table, key=key, amount=amount)


def equals_within(
    column: str,
    other: str | SumOf,
    tolerance: float | Decimal,
    *,
    severity: Severity = "drop",
    name: str | None = None,
) -> Rule:
    """`column` differs from `other` (a column, or a `sum_of` another table) by at most `tolerance`.

    A key without rows in the other table sums to 0.
    """
    from pyspark.sql import functions as F

    traces: tuple[Trace, ...] = ()
    if isinstance(other, SumOf):
        prepare: Prepare | None = _summed(other)
        needs, shown, beside = (other.table,), f"the sum over {other.table}", other.key
        traces = (Trace(other.table, other.key, other.key),)
    else:
        prepare, needs, shown, beside = None, (), other, other

    def test(scope: RowScope) -> Column:
        against = (
            F.col(other) if isinstance(other, str) else F.coalesce(F.col(scope.helper), F.lit(0))
        )
        return F.abs(F.col(column) - against) <= F.lit(tolerance)

    return Rule(
        name=name or f"{column}_matches",
        severity=severity,
        expectation="ExpectColumnValuesToBeBetween",
        kwargs=(("column", f"|{column} - {shown}|"), ("max_value", tolerance)),
        columns=(column, beside),
        description=f"{column} equals {shown} within {tolerance}",
        test=test,
        prepare=prepare,
        needs=needs,
        traces=traces,
    )


def _summed(total: SumOf) -> Prepare:
    """Adds, per row, the sum of `total.amount` over the other table's rows with its key."""
    from pyspark.sql import functions as F

    def prepare(data: DataFrame, inputs: Mapping[str, DataFrame], helper: str) -> DataFrame:
        rows = inputs[total.table]
        key = f"{helper}_key"
        sums = rows.groupBy(F.col(total.key).alias(key)).agg(
            F.sum(total.amount(rows)).alias(helper)
        )
        return data.join(sums, data[total.key] == sums[key], "left").drop(key)

    return prepare


def first_of(
    *columns: str, order_by: str, severity: Severity = "drop", name: str | None = None
) -> Rule:
    """Only the first row (lowest `order_by`) of rows equal in `columns` passes: later copies
    are repeats, e.g. an event recorded twice under new ids."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    cols = _columns(columns)

    def prepare(data: DataFrame, _: Mapping[str, DataFrame], helper: str) -> DataFrame:
        # The window's sort compares a 64-bit prefix of its first key before whole rows. With
        # the columns' hash first, rows differ there unless they repeat (or collide, which the
        # columns after it settle); with a column first, rows sharing it (a user's many
        # events) fell through to comparing the rest: 1.1 s of 5.2 on a million events.
        earliest = Window.partitionBy(F.xxhash64(*cols), *cols).orderBy(F.col(order_by))
        return data.withColumn(helper, F.row_number().over(earliest))

    return Rule(
        name=name or f"{'_'.join(cols)}_not_repeated",
        severity=severity,
        expectation=UNIQUE_COMBINATIONS,
        kwargs=(("column_list", list(cols)),),
        columns=(order_by, *cols),
        description=f"no repeat of ({', '.join(cols)}) after its first {order_by}",
        test=lambda scope: F.col(scope.helper) == 1,
        prepare=prepare,
        groups=cols,
    )


def expect(
    expectation: str,
    *,
    name: str,
    severity: Severity = "fail",
    description: str = "",
    **kwargs: Any,
) -> Rule:
    """Any GX expectation, by class name and arguments, evaluated by Great Expectations itself
    on the table's Spark DataFrame. Such rules judge the table as a whole: warn or fail.

    Example: `expect("ExpectColumnMedianToBeBetween", column="price_usd", max_value=1000,
    name="median_price_plausible")`.
    """
    columns = [kwargs["column"]] if "column" in kwargs else list(kwargs.get("column_list", []))
    return Rule(
        name=name,
        severity=severity,
        expectation=expectation,
        kwargs=tuple(kwargs.items()),
        columns=tuple(columns),
        description=description or f"{expectation} {kwargs}",
        kind="expectation",
    )


def mean_between(
    column: str,
    min_value: float | None = None,
    max_value: float | None = None,
    *,
    severity: Severity = "fail",
    name: str | None = None,
) -> Rule:
    """The mean of `column` over the table lies within the bounds; checked by GX."""
    return expect(
        "ExpectColumnMeanToBeBetween",
        column=column,
        min_value=min_value,
        max_value=max_value,
        name=name or f"mean_{column}_in_range",
        severity=severity,
        description=f"mean {column} within [{min_value}, {max_value}]",
    )


def primary_key_rules(keys: Sequence[str]) -> tuple[Rule, Rule]:
    """The checks every table gets from its primary key: not null and unique, both fail."""
    subject = f"primary key ({', '.join(keys)})"
    return (
        _with_subject(not_null(*keys, name="primary_key_not_null"), subject),
        _with_subject(unique(*keys, name="primary_key_unique"), subject),
    )


def _with_subject(rule: Rule, subject: str) -> Rule:
    return replace(rule, subject=subject)


def _columns(columns: Sequence[str]) -> tuple[str, ...]:
    if not columns:
        raise ValueError("a rule needs at least one column")
    return tuple(columns)


def _all(checks: Sequence[Column]) -> Column:
    result = checks[0]
    for check in checks[1:]:
        result = result & check
    return result
