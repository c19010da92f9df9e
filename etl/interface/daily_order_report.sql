-- Daily order report: one row per order date, oldest first.
-- Revenue is in USD; "Mean Revenue" is rounded half up to the cent.
SELECT
    order_date AS `Date`,
    total_revenue AS `Total Revenue`,
    mean_revenue AS `Mean Revenue`,
    order_count AS `Orders`
FROM daily_order_metrics
ORDER BY order_date
