"""Daily funnel per product category: sessions per day and category through the steps."""

from __future__ import annotations

from pyspark.sql import DataFrame

from etl.core import Table, TableSpec, between
from etl.tables.gold._categories import named_categories
from etl.tables.gold._funnel import (
    COLUMN_DESCRIPTIONS,
    RATES,
    STEPS,
    funnel,
    has,
    session_starts,
    with_sessions,
)

PRODUCT_STEPS = ("view", "add_to_cart")
"""The steps whose events name a product, and so a category."""


class DailyCategoryFunnelMetrics(Table):
    """One row per day and category: the sessions that started that day and touched a
    product of the category, and how far down the funnel they got with it.

    Sessions and their days are those of `daily_funnel_metrics`. A session counts in every
    category of the products it viewed or added to the cart. It viewed the category with a
    `view` of one of its products, and reached the cart with an `add_to_cart` of one of them;
    checkout and purchase name no product upstream, so a session that reached the category's
    cart counts as checking out and purchasing it when the session checked out and
    purchased. Categories without a name are left out; rates as in `daily_funnel_metrics`.
    """

    spec = TableSpec(
        name="daily_category_funnel_metrics",
        grain="one row per day sessions started and product category",
        primary_keys=("session_date", "category"),
        upstream=("fact_clickstream", "product_x_category", "dim_category"),
        rules=(*(between(rate, 0, 1, severity="fail") for rate in RATES),),
        column_descriptions={
            **COLUMN_DESCRIPTIONS,
            "category": "The category's name.",
            "sessions": "Sessions that started that day and viewed or carted its products.",
            "viewed_sessions": "Of those, sessions that viewed one of its products.",
            "cart_sessions": "Sessions that viewed and added to cart one of its products.",
        },
    )

    def transform(
        self,
        fact_clickstream: DataFrame,
        product_x_category: DataFrame,
        dim_category: DataFrame,
    ) -> DataFrame:
        events = with_sessions(fact_clickstream)
        categories = named_categories(product_x_category, dim_category)
        product_steps = {name: step for name, step in STEPS.items() if step in PRODUCT_STEPS}
        in_category = (
            events.join(categories, "product_id")
            .groupBy("session", "category")
            .agg(*(has(step).alias(name) for name, step in product_steps.items()))
        )
        whole_session = session_starts(events).drop(*product_steps)
        return funnel(in_category.join(whole_session, "session"), "session_date", "category")
