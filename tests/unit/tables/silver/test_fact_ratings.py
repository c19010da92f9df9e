"""fact_ratings: each rating's latest value; a rating outside 1-5 is quarantined."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from etl.core.dataset import ETLDataSet
from etl.tables.silver.fact_ratings import FactRatings
from tests.unit.tables.frames import NO_CONTEXT, bronze, collect, silver, ts, types

pytestmark = pytest.mark.spark


def test_each_rating_once_with_its_latest_value(spark: SparkSession) -> None:
    ratings = bronze(
        spark,
        "ratings",
        [
            (1, 500, 1000, 4, ts(5), ts(5)),
            (2, 500, 1001, 1, ts(5), ts(5)),
            (2, 500, 1001, 5, ts(5), ts(6)),  # edited from 1 to 5
        ],
    )

    out = FactRatings(NO_CONTEXT).transform(ratings=ratings)

    assert types(out) == types(silver(spark, "fact_ratings", []))
    assert [(r["rating_id"], r["rating"]) for r in collect(out, "rating_id")] == [(1, 4), (2, 5)]


def test_a_rating_outside_one_to_five_is_quarantined_with_its_reason(
    spark: SparkSession,
) -> None:
    ratings = silver(
        spark,
        "fact_ratings",
        [
            (1, 500, 1000, 5, ts(5), ts(5)),
            (2, 500, 1001, 7, ts(5), ts(5)),
            (3, 501, 1002, 0, ts(5), ts(5)),
            (4, 501, 1003, None, ts(5), ts(5)),  # no value is no defect
        ],
    )
    table = FactRatings(NO_CONTEXT)

    verdict = table.validate(ETLDataSet(spec=table.spec, curr_data=ratings, storage_path="-"))

    assert sorted(r["rating_id"] for r in verdict.kept.collect()) == [1, 4]
    assert verdict.quarantine is not None
    assert sorted(
        (r["rating_id"], tuple(r["failed_rules"])) for r in verdict.quarantine.collect()
    ) == [(2, ("rating_in_range",)), (3, ("rating_in_range",))]
