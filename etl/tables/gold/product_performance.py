"""Product performance: per product and category, sales, ratings and rank in the category."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from etl.core import Table, TableSpec, between
from etl.tables.gold._categories import named_categories
from etl.tables.gold._money import USD_SUM, cents

RATING = "decimal(3,2)"


class ProductPerformance(Table):
    """One row per product and each of its named categories (a product in no category has
    none): what it sold in kept items, how it is rated, and its revenue rank in the category.

    Products that never sold have 0 revenue, quantity and orders and no average price;
    products never rated have no mean rating and a count of 0. The average selling price is
    `revenue / quantity` and the mean rating the exact mean of its ratings, both rounded half
    up to 2 places. The rank is SQL's `rank()` by revenue, highest first (ties share a rank),
    and the gap is the category's best revenue less the product's.
    """

    spec = TableSpec(
        name="product_performance",
        grain="one row per product and category",
        primary_keys=("category", "product_id"),
        upstream=(
            "dim_product",
            "fact_order_items",
            "fact_ratings",
            "product_x_category",
            "dim_category",
        ),
        rules=(
            between("revenue_rank", 1, severity="fail"),
            between("revenue_gap_to_best_usd", 0, severity="fail"),
            between("mean_rating", 1, 5, severity="fail"),
            *(
                between(count, 0, severity="fail", name=f"{count}_not_negative")
                for count in ("quantity_sold", "order_count", "rating_count")
            ),
        ),
        column_descriptions={
            "category": "The category's name; a product is listed in each of its categories.",
            "product_id": "The product.",
            "product_name": "Its name.",
            "revenue_usd": "The exact sum of its kept items' `quantity * base_price`.",
            "quantity_sold": "Units sold.",
            "order_count": "Orders with the product.",
            "average_selling_price_usd": "`revenue_usd / quantity_sold`, half up to the cent.",
            "mean_rating": "The mean of its ratings, half up to 2 places; null if never rated.",
            "rating_count": "Its ratings.",
            "revenue_rank": "Its rank by revenue in the category, 1 the highest; ties share.",
            "revenue_gap_to_best_usd": "The category's highest revenue less the product's.",
        },
    )

    def transform(
        self,
        dim_product: DataFrame,
        fact_order_items: DataFrame,
        fact_ratings: DataFrame,
        product_x_category: DataFrame,
        dim_category: DataFrame,
    ) -> DataFrame:
        sales = fact_order_items.groupBy("product_id").agg(
            F.sum("revenue_usd").alias("revenue"),
            F.sum("quantity").alias("quantity"),
            F.count_distinct("order_id").alias("orders"),
        )
        ratings = fact_ratings.groupBy("product_id").agg(
            F.round(F.try_divide(F.sum("rating").cast("decimal(20,0)"), F.count("rating")), 2)
            .cast(RATING)
            .alias("mean_rating"),
            F.count("rating").alias("rating_count"),
        )
        categories = named_categories(product_x_category, dim_category)
        products = (
            dim_product.select("product_id", "product_name")
            .join(categories, "product_id")
            .join(sales, "product_id", "left")
            .join(ratings, "product_id", "left")
            .select(
                "category",
                "product_id",
                "product_name",
                F.coalesce("revenue", F.lit(0).cast(USD_SUM)).alias("revenue_usd"),
                F.coalesce("quantity", F.lit(0)).alias("quantity_sold"),
                F.coalesce("orders", F.lit(0)).alias("order_count"),
                cents(F.try_divide("revenue", "quantity")).alias("average_selling_price_usd"),
                "mean_rating",
                F.coalesce("rating_count", F.lit(0)).alias("rating_count"),
            )
        )
        in_category = Window.partitionBy("category")
        return products.select(
            "*",
            F.rank().over(in_category.orderBy(F.col("revenue_usd").desc())).alias("revenue_rank"),
            (F.max("revenue_usd").over(in_category) - F.col("revenue_usd"))
            .cast(USD_SUM)
            .alias("revenue_gap_to_best_usd"),
        )
