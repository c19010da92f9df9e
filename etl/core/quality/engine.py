"""Checks a table's rules in the Spark pass that writes it, and what needs the rows together
on the rows as written.

Row rules are Spark conditions evaluated in one projection; the drop rules' conditions split
the rows into kept and quarantined, and a quarantined row gets an array column naming the
rules it broke. The rows to write carry a Spark observation that counts, as they are written,
the rows in, the rows kept and the rows breaking each row rule: no job of its own. After the
write (before its commit), uniqueness rules count distinct values in the written files, which
read only the key columns instead of computing the table again. Great Expectations evaluates
only the rules that are GX expectations of their own (`expect`, `mean_between`), in one suite.
Examples of offending values are fetched only for a failing fail rule.

Drop rules judge the rows as they come; warn and fail rules judge the kept rows, the ones
that would be written, so a row already quarantined cannot also stop the table.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from typing import Any

from py4j.protocol import Py4JJavaError
from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F

from etl.core.errors import EXIT_RULE_BROKEN, DataQualityError
from etl.core.lake import Written
from etl.core.quality.rules import UNIQUENESS, RowScope, Rule, RuleResult

MAX_EXAMPLES = 5
IN_PROCESS_VALUES = 4_000_000
"""Key values (written rows times key columns) up to which uniqueness is counted in this
process with pyarrow: less than the Spark jobs of a distinct count. Measured: a million
single-column keys in 6 ms, a million keys of four columns in 0.55 s; at most about 150 MB."""
FAILED_RULES = "failed_rules"
"""The quarantine's column naming the drop rules a row broke."""

_HELPER = "_dq_{}"


class RulesBroken(DataQualityError):
    """Fail rules were broken; carries every rule's result so that the run still records them."""

    exit_code = EXIT_RULE_BROKEN

    def __init__(self, message: str, results: Sequence[RuleResult]) -> None:
        super().__init__(message)
        self.results = tuple(results)


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """The rows to write, the rows to quarantine and every rule's result."""

    kept: DataFrame
    quarantine: DataFrame | None
    """Rows that broke a drop rule, with `failed_rules`; None when the table has no drop rules."""
    rows_in: int | None
    rows_dropped: int
    rows_kept: int | None = None
    """Rows to write, when counted (None for a table whose rules count nothing)."""
    results: tuple[RuleResult, ...]
    judged: DataFrame
    """The kept rows with the rules' helper columns: where examples of failures come from."""
    now: datetime

    def failures(self) -> list[RuleResult]:
        return [r for r in self.results if r.severity == "fail" and not r.success]


@dataclass(frozen=True, kw_only=True)
class Check:
    """A table's rules laid over its rows, before they are written.

    `kept` counts every row rule's outcome while it is computed (a Spark observation), so the
    pass that writes the rows is the pass that checks them; `judge` then reads what was
    written for the rules that need the rows together (uniqueness, GX expectations).
    """

    table: str
    rules: tuple[Rule, ...]
    kept: DataFrame
    """The rows to write, without helper columns."""
    quarantine: DataFrame | None
    judged: DataFrame
    now: datetime
    held: DataFrame | None
    """The checked rows, kept where the write computed them for the quarantine or GX to read
    again (see `check`); `release` frees them."""
    observation: Observation
    counted: Callable[[], DataFrame]
    """The observation's counts as a job of their own, for when Spark reported none: it drops
    an observation whose rows it proved empty before running anything. Made only then, as
    each DataFrame costs py4j calls and an analysis of its plan in the JVM."""
    has_drops: bool
    whole: Callable[[DataFrame], DataFrame] | None


def release(checked: Check) -> None:
    """Free the rows `checked` held, once the table's build is over."""
    if checked.held is not None:
        checked.held._jdf.queryExecution().logical().rdd().unpersist(False)


def check(
    data: DataFrame,
    rules: Sequence[Rule],
    *,
    table: str,
    inputs: Mapping[str, DataFrame] | None = None,
    now: datetime | None = None,
    whole: Callable[[DataFrame], DataFrame] | None = None,
) -> Check:
    """Lay `rules` over `data`: the rows are computed when `kept` is written (or otherwise
    computed); only the shuffles leading to rows the check holds (below) run here.

    `inputs` holds the upstream tables that `references` and `sum_of` rules join; `now` is
    the moment against which `not_in_future` rules judge. When `data` replaces part of a
    table, `whole(kept)` is the table as it will be, which GX expectations (a mean, say)
    judge. The rows are held only when something reads them again besides the write: the
    quarantine, or GX. They are held as the write computes them, in the executors' memory
    (a local checkpoint), not in Spark's cache: the cache encodes every row into columns and
    back, 1.4 s of a million-row table's 10.4. Held rows that an executor loses are not
    computed again; the build fails with a transient error and runs again.
    """
    moment = now or datetime.now(UTC)
    row_rules = [r for r in rules if r.kind == "row"]
    drops = [r for r in row_rules if r.severity == "drop"]
    flagged = data
    for rule in row_rules:
        if rule.prepare is not None:
            flagged = rule.prepare(flagged, inputs or {}, _helper(rule))
    passes = {r.name: _passes(r, RowScope(moment, _helper(r))) for r in row_rules}
    helpers = [c for c in flagged.columns if c not in data.columns]
    kept_test = reduce(operator.and_, (passes[r.name] for r in drops), F.lit(True))
    held = None
    if drops or any(r.kind == "expectation" for r in rules):
        held = flagged = flagged.localCheckpoint(eager=False)
    observation = Observation()
    counts = _counts(rules, passes, kept_test)
    observed = flagged.observe(observation, *counts)
    return Check(
        table=table,
        rules=tuple(rules),
        kept=observed.filter(kept_test).drop(*helpers),
        quarantine=_set_aside(flagged.filter(~kept_test), drops, passes).drop(*helpers)
        if drops
        else None,
        judged=flagged.filter(kept_test),
        now=moment,
        held=held,
        observation=observation,
        counted=lambda: flagged.agg(*counts),
        has_drops=bool(drops),
        whole=whole,
    )


def judge(checked: Check, written: Written) -> Verdict:
    """The verdict on rows that `checked.kept` became: `written` (for a write that keeps other
    rows of the table, those too), once `kept` was computed in full.

    Uniqueness is counted on the written rows: in this process when they are few (a Spark
    job costs more than reading a few key columns), else in the rows the check held,
    else by Spark reading the files' key columns; the table is never computed again.
    """
    try:
        observed = checked.observation.get
    except Py4JJavaError:
        row = checked.counted().first()
        assert row is not None
        observed = row.asDict()
    counts = {k: int(v or 0) for k, v in observed.items()}
    counts["_written"] = written.rows
    counts |= _distinct_counts(checked, written, kept=counts["_kept"])
    table, moment = checked.table, checked.now
    results = [
        _row_or_unique_result(table, r, counts) for r in checked.rules if r.kind != "expectation"
    ]
    gx_rules = [r for r in checked.rules if r.kind == "expectation"]
    if gx_rules:
        judged_whole = checked.whole(checked.kept) if checked.whole is not None else written.frame
        results.extend(_run_gx(judged_whole, gx_rules, table=table, now=moment))
    return Verdict(
        kept=checked.kept,
        quarantine=checked.quarantine,
        rows_in=counts["_rows"] if checked.has_drops else None,
        rows_dropped=counts["_rows"] - counts["_kept"],
        rows_kept=counts["_kept"],
        results=tuple(results),
        judged=checked.judged,
        now=moment,
    )


def _distinct_counts(checked: Check, written: Written, *, kept: int) -> dict[str, int]:
    """Distinct values of each uniqueness rule's columns in the written rows, by rule name.

    When the written rows are the rows the check kept (none carried from the table), a
    uniqueness that a drop rule enforced on the same columns (`first_of`) holds without a
    count: that rule kept one row of each group."""
    enforced = written.rows == kept
    implied = {
        r.name: written.rows
        for r in checked.rules
        if r.kind == "unique" and enforced and _enforced_by_a_drop(r, checked.rules)
    }
    uniques = [r for r in checked.rules if r.kind == "unique" and r.name not in implied]
    if not uniques:
        return implied
    return implied | _counted_distinct(checked, written, uniques)


def _enforced_by_a_drop(unique: Rule, rules: Sequence[Rule]) -> bool:
    return any(
        rule.kind == "row"
        and rule.severity == "drop"
        and rule.expectation in UNIQUENESS
        and set(rule.groups) == set(unique.groups)
        for rule in rules
    )


def _counted_distinct(checked: Check, written: Written, uniques: Sequence[Rule]) -> dict[str, int]:
    columns = list(dict.fromkeys(c for r in uniques for c in r.columns))
    if written.rows * len(columns) <= IN_PROCESS_VALUES:
        rows = written.load(columns)
        return {r.name: rows.group_by(list(r.columns)).aggregate([]).num_rows for r in uniques}
    counted = checked.judged if checked.held is not None else written.frame
    distinct = [F.count_distinct(F.struct(*r.columns)).alias(r.name) for r in uniques]
    row = counted.agg(*distinct).first()
    assert row is not None
    return {k: int(v or 0) for k, v in row.asDict().items()}


def evaluate(
    data: DataFrame,
    rules: Sequence[Rule],
    *,
    table: str,
    inputs: Mapping[str, DataFrame] | None = None,
    now: datetime | None = None,
    whole: Callable[[DataFrame], DataFrame] | None = None,
) -> Verdict:
    """Check `rules` on `data` without writing it (see `check`), then judge the kept rows;
    `raise_on_failure` stops the table if a fail rule broke."""
    checked = check(data, rules, table=table, inputs=inputs, now=now, whole=whole)
    checked.kept.write.format("noop").mode("overwrite").save()
    kept = checked.judged
    rows = kept.count()
    return judge(
        checked,
        Written(rows=rows, frame=kept, load=lambda columns: kept.select(*columns).toArrow()),
    )


def raise_on_failure(verdict: Verdict, rules: Sequence[Rule], *, table: str) -> None:
    """Stop the table with a message naming each broken fail rule and offending values."""
    failures = verdict.failures()
    if not failures:
        return
    by_name = {r.name: r for r in rules}
    messages = [_explain(verdict, by_name[f.rule], f, table) for f in failures]
    raise RulesBroken(" ".join(messages), verdict.results)


def _passes(rule: Rule, scope: RowScope) -> Column:
    """The row test, with a null outcome (a null value) counting as passing, as in GX."""
    assert rule.test is not None
    return F.coalesce(rule.test(scope), F.lit(True))


def _set_aside(rows: DataFrame, drops: Sequence[Rule], passes: Mapping[str, Column]) -> DataFrame:
    """`rows` with the names of the drop rules each broke, made for the few rows that broke
    one: an array column on every row held for the quarantine took 0.7 s of a million-row
    table's 11."""
    broken = F.array(*[F.when(~passes[r.name], F.lit(r.name)) for r in drops])
    return rows.withColumn(FAILED_RULES, F.filter(broken, lambda name: name.isNotNull()))


def _helper(rule: Rule) -> str:
    return _HELPER.format(rule.name)


def _counts(rules: Sequence[Rule], passes: Mapping[str, Column], kept: Column) -> list[Column]:
    """What the row rules' results need, counted as the rows pass: rows in and kept, and for
    each row rule the rows that break it (drop rules judge every row, the others the kept)."""
    counted = [F.count(F.lit(1)).alias("_rows"), F.count_if(kept).alias("_kept")]
    for rule in rules:
        if rule.kind == "row":
            broken = ~passes[rule.name] if rule.severity == "drop" else kept & ~passes[rule.name]
            counted.append(F.count_if(broken).alias(rule.name))
    return counted


def _row_or_unique_result(table: str, rule: Rule, counts: Mapping[str, int]) -> RuleResult:
    checked = counts.get("_rows") if rule.severity == "drop" else counts.get("_kept")
    if rule.kind == "unique":
        checked = counts["_written"]
        unexpected = checked - counts[rule.name]
        observed = f"{unexpected} duplicate rows"
    else:
        unexpected = counts[rule.name]
        observed = f"{unexpected} of {checked} rows"
    return RuleResult(
        table=table,
        rule=rule.name,
        severity=rule.severity,
        expectation=rule.expectation,
        success=unexpected == 0,
        unexpected_count=unexpected,
        element_count=checked,
        observed_value=observed,
        description=rule.description,
    )


def _run_gx(
    kept: DataFrame, rules: Sequence[Rule], *, table: str, now: datetime
) -> list[RuleResult]:
    """One GX suite of the rules GX evaluates itself, validated on the kept rows."""
    from etl.core.quality.gx import validate_suite

    suite_result = validate_suite(kept, [r.gx_expectation(now) for r in rules], table=table)
    results = []
    for rule, outcome in zip(rules, suite_result.results, strict=True):
        detail: Mapping[str, Any] = outcome.result or {}
        observed = detail.get("observed_value")
        results.append(
            RuleResult(
                table=table,
                rule=rule.name,
                severity=rule.severity,
                expectation=rule.expectation,
                success=bool(outcome.success),
                unexpected_count=detail.get("unexpected_count"),
                element_count=detail.get("element_count"),
                observed_value=None if observed is None else str(observed),
                description=rule.description,
            )
        )
    return results


def _explain(verdict: Verdict, rule: Rule, result: RuleResult, table: str) -> str:
    """A failure message: the table, the rule, how many rows, and examples of their values."""
    kept = verdict.judged
    if rule.kind == "unique":
        duplicates = (
            kept.groupBy(*rule.columns)
            .count()
            .filter(F.col("count") > 1)
            .orderBy(F.col("count").desc(), *rule.columns)
            .limit(MAX_EXAMPLES)
            .collect()
        )
        shown = "; ".join(
            ", ".join(f"{c}={row[c]!r}" for c in rule.columns) + f" ({row['count']}x)"
            for row in duplicates
        )
        return (
            f"{table}: {rule.subject} is not unique: {result.unexpected_count} duplicate rows, "
            f"e.g. {shown} (rule {rule.name}, fail). Deduplicate in the transform."
        )
    if rule.kind == "expectation":
        return (
            f"{table}: rule {rule.name} failed ({rule.description}): observed "
            f"{result.observed_value}. Look at the rows behind it; the table keeps its "
            "previous version."
        )
    if rule.expectation == "ExpectColumnValuesToNotBeNull":
        return (
            f"{table}: {result.unexpected_count} rows have a null {rule.subject} "
            f"(rule {rule.name}, fail). Fix the transform or filter those rows upstream."
        )
    offending = kept.filter(~_passes(rule, RowScope(verdict.now, _helper(rule))))
    examples = offending.select(*rule.columns).limit(MAX_EXAMPLES).collect()
    shown = "; ".join(", ".join(f"{c}={row[c]!r}" for c in rule.columns) for row in examples)
    return (
        f"{table}: {result.unexpected_count} rows break rule {rule.name} ({rule.description}, "
        f"fail), e.g. {shown}."
    )
