"""Great Expectations: validates GX-evaluated rules on Spark DataFrames and writes Data Docs.

One ephemeral GX context per process (GX's import alone takes seconds, so it happens only
when a rule or the Data Docs need it). Data Docs show every rule of the run, whether GX or
the one-pass Spark check evaluated it: each result is a GX validation result of the rule's
expectation.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.data_context import AbstractDataContext
    from great_expectations.data_context.store.store import DataDocsSiteConfigTypedDict
    from great_expectations.expectations import Expectation
    from pyspark.sql import DataFrame, SparkSession

    from etl.core.quality.rules import Rule, RuleResult

SITE = "rainforest"
DATA_SOURCE = "rainforest_spark"
_GX = threading.Lock()
"""Tables build on several threads; GX's context registers assets and batch definitions in
shared state, so one table at a time talks to it."""


@functools.cache
def _context() -> AbstractDataContext:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def validate_suite(
    data: DataFrame, expectations: Sequence[Expectation], *, table: str
) -> ExpectationSuiteValidationResult:
    """All `expectations` in one suite, validated by GX on the whole Spark DataFrame."""
    import great_expectations as gx

    with _GX:
        context = _context()
        source = context.data_sources.add_or_update_spark(name=DATA_SOURCE)
        asset_names = {asset.name for asset in source.assets}
        asset = (
            source.get_asset(table)
            if table in asset_names
            else source.add_dataframe_asset(name=table)
        )
        batches = {b.name: b for b in asset.batch_definitions}
        definition = batches.get("whole") or asset.add_batch_definition_whole_dataframe("whole")
        batch = definition.get_batch(batch_parameters={"dataframe": data})
        suite = gx.ExpectationSuite(name=table, expectations=[e.copy() for e in expectations])
        return batch.validate(suite, result_format="SUMMARY")


def warm_up(spark: SparkSession) -> None:
    """Validate once on a one-row frame: GX's first validation in a process takes seconds
    (imports, the context, its Spark engine's setup), which a run spends while other tables
    build instead of on the path of the first table with a GX rule."""
    import great_expectations.expectations as gxe

    check = gxe.ExpectColumnMinToBeBetween(column="id", min_value=0)
    validate_suite(spark.range(1), [check], table="_warm_up")


def prepare_docs() -> None:
    """Import GX and make its context: a second or more, which a run spends while its tables
    build rather than after them, when it publishes Data Docs."""
    _context()


def build_data_docs(
    folder: Path,
    runs: Sequence[tuple[str, Sequence[Rule], Sequence[RuleResult]]],
    *,
    run_id: str,
    run_ts: datetime,
) -> Path:
    """Write GX Data Docs for one run's tables into `folder`; returns the index page.

    `runs` holds, per table, its rules and their results; earlier runs' pages in the folder
    stay, so the index lists every run.
    """
    from great_expectations.core import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = _context()
    folder.mkdir(parents=True, exist_ok=True)
    site: DataDocsSiteConfigTypedDict = {
        "class_name": "SiteBuilder",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(folder),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    # The context lives as long as the process, which may run into several warehouses
    # (tests, a long-lived driver): point the site at this run's folder every time.
    if SITE in (context.variables.data_docs_sites or {}):
        context.update_data_docs_site(site_name=SITE, site_config=site)
    else:
        context.add_data_docs_site(site_name=SITE, site_config=site)
    run = RunIdentifier(run_name=run_id, run_time=run_ts)
    pages: list[ValidationResultIdentifier] = []
    for table, rules, results in runs:
        by_rule = {r.rule: r for r in results}
        outcomes = [
            ExpectationValidationResult(
                success=by_rule[rule.name].success,
                expectation_config=rule.gx_expectation(run_ts).configuration,
                result=_result_dict(by_rule[rule.name]),
            )
            for rule in rules
            if rule.name in by_rule
        ]
        suite_result = ExpectationSuiteValidationResult(
            success=all(o.success for o in outcomes),
            results=outcomes,
            suite_name=table,
            statistics={
                "evaluated_expectations": len(outcomes),
                "successful_expectations": sum(bool(o.success) for o in outcomes),
                "unsuccessful_expectations": sum(not o.success for o in outcomes),
            },
            meta={"run_id": run, "active_batch_definition": {"data_asset_name": table}},
        )
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=table),
            run_id=run,
            batch_identifier=table,
        )
        context.validation_results_store.set(key, suite_result)
        pages.append(key)
    # Only this run's pages are rendered (with none given, GX renders every stored run's
    # pages again); the index lists them all.
    context.build_data_docs(site_names=[SITE], resource_identifiers=pages or None)
    return folder / "index.html"


def _result_dict(result: RuleResult) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    if result.element_count is not None:
        detail["element_count"] = result.element_count
    if result.unexpected_count is not None:
        detail["unexpected_count"] = result.unexpected_count
        if result.element_count:
            detail["unexpected_percent"] = 100 * result.unexpected_count / result.element_count
    if result.observed_value is not None and result.unexpected_count is None:
        detail["observed_value"] = result.observed_value
    return detail
