-- Product performance report: the ten best-selling products of each category by revenue,
-- by category then rank; the whole ranking is the table product_performance.
SELECT
    category AS `Category`,
    revenue_rank AS `Rank`,
    product_name AS `Product`,
    revenue_usd AS `Revenue`,
    quantity_sold AS `Units`,
    order_count AS `Orders`,
    average_selling_price_usd AS `Average Price`,
    mean_rating AS `Mean Rating`,
    rating_count AS `Ratings`,
    revenue_gap_to_best_usd AS `Gap to Best`
FROM product_performance
WHERE revenue_rank <= 10
ORDER BY category, revenue_rank, product_id
