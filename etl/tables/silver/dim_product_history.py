"""Product history: every version of each product's name, description, price and makers."""

from __future__ import annotations

from etl.core import HistoryTable, history_spec


class DimProductHistory(HistoryTable):
    """One row per version of each upstream product (SCD type 2): what it was called, how it
    was described and priced, and who made it, from when to when.

    `gold.wide_order_items` joins the version valid when each order was placed, so an order
    keeps the price its product was listed at then, not the price now.
    """

    spec = history_spec(
        "dim_product_history",
        of="product",
        key="product_id",
        tracked={
            "product_name": "name",
            "description": "description",
            "price_usd": "price",
            "brand_id": "brand_id",
            "manufacturer_id": "manufacturer_id",
        },
        column_descriptions={
            "product_id": "The product's id upstream.",
            "product_name": "Its name during the version.",
            "description": "Its description during the version.",
            "price_usd": "Its list price during the version, in USD.",
            "brand_id": "Its brand during the version.",
            "manufacturer_id": "Its manufacturer during the version.",
        },
    )
