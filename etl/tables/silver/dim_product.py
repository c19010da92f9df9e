"""Products: one row per product, with its brand, manufacturer and ratings."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core import Table, TableSpec, between, merge
from etl.tables.silver._columns import latest


class DimProduct(Table):
    """One row per product.

    Brand and manufacturer are left-joined, so a product whose brand is missing stays, with
    null brand columns. `rating_count` counts the ratings of `fact_ratings` that carry a value
    (ratings outside 1-5 are quarantined there), the same ones `mean_rating` averages: 0 and
    null for a product nobody rated.
    """

    spec = TableSpec(
        name="dim_product",
        grain="one row per product",
        primary_keys=("product_id",),
        upstream=("product", "brand", "manufacturer", "fact_ratings"),
        strategy=merge(
            "product_id",
            via={
                "brand": "brand_id",
                "manufacturer": "manufacturer_id",
                "fact_ratings": "product_id",
            },
        ),
        rules=(between("price_usd", 0, strict_min=True, name="price_positive"),),
    )

    def transform(
        self,
        product: DataFrame,
        brand: DataFrame,
        manufacturer: DataFrame,
        fact_ratings: DataFrame,
    ) -> DataFrame:
        brands = latest(brand, "brand_id").select(
            "brand_id", F.col("name").alias("brand_name"), F.col("country").alias("brand_country")
        )
        manufacturers = latest(manufacturer, "manufacturer_id").select(
            "manufacturer_id",
            F.col("name").alias("manufacturer_name"),
            F.col("country").alias("manufacturer_country"),
        )
        rated = fact_ratings.groupBy("product_id").agg(
            F.avg(F.col("rating").cast("double")).alias("mean_rating"),
            F.count("rating").alias("rating_count"),
        )
        return (
            latest(product, "product_id")
            .join(brands, "brand_id", "left")
            .join(manufacturers, "manufacturer_id", "left")
            .join(rated, "product_id", "left")
            .select(
                "product_id",
                F.col("name").alias("product_name"),
                "description",
                F.col("price").alias("price_usd"),
                "brand_id",
                "brand_name",
                "brand_country",
                "manufacturer_id",
                "manufacturer_name",
                "manufacturer_country",
                "mean_rating",
                F.coalesce("rating_count", F.lit(0).cast("long")).alias("rating_count"),
            )
        )
