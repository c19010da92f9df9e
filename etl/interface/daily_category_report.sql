-- Daily category report: one row per order date and product category, by date then category.
-- Item revenue in USD, mean and exact median rounded half up to the cent.
SELECT
    order_date AS `Date`,
    category AS `Product Category`,
    mean_revenue AS `Mean Revenue`,
    median_revenue AS `Median Revenue`
FROM daily_category_metrics
ORDER BY order_date, category
