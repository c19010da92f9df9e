-- Customer segments report: one row per RFM segment, the most valuable first: its buyers,
-- their share of all buyers, their lifetime value and its share, and how they buy.
-- Shares to 4 places, means half up; per buyer, query customer_segments itself.
SELECT
    rfm_segment AS `Segment`,
    count(*) AS `Buyers`,
    round(CAST(count(*) AS DECIMAL(12, 0)) / sum(count(*)) OVER (), 4) AS `Share of Buyers`,
    sum(lifetime_value_usd) AS `Lifetime Value`,
    round(sum(lifetime_value_usd) / sum(sum(lifetime_value_usd)) OVER (), 4) AS `Share of Value`,
    round(sum(total_spent_usd) / sum(order_count), 2) AS `Average Order Value`,
    round(avg(order_count), 1) AS `Mean Orders`,
    round(avg(recency_days), 1) AS `Mean Days Since Last Order`,
    count_if(value_tier = 'high') AS `High Value Buyers`
FROM customer_segments
GROUP BY rfm_segment
ORDER BY `Lifetime Value` DESC, `Segment`
