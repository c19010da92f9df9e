-- Daily business report: one row per day, oldest first: sales, buyers, the funnel's
-- conversion and the share of the day's upstream orders and events that were quarantined.
SELECT
    business_date AS `Date`,
    revenue_usd AS `Revenue`,
    orders AS `Orders`,
    average_order_value_usd AS `Average Order Value`,
    items_sold AS `Items Sold`,
    unique_buyers AS `Buyers`,
    new_buyers AS `New Buyers`,
    returning_buyers AS `Returning Buyers`,
    sessions AS `Sessions`,
    conversion_rate AS `Conversion`,
    quarantined_order_share AS `Quarantined Orders`,
    quarantined_event_share AS `Quarantined Events`
FROM daily_business_metrics
ORDER BY business_date
