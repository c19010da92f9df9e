-- Funnel report: one row per day, oldest first: the sessions that started that day, how many
-- reached each step, and the rates between steps (4 places, null without a denominator).
SELECT
    session_date AS `Date`,
    sessions AS `Sessions`,
    viewed_sessions AS `Viewed`,
    cart_sessions AS `Added to Cart`,
    checkout_sessions AS `Checked Out`,
    purchase_sessions AS `Purchased`,
    view_to_cart_rate AS `View to Cart`,
    cart_to_checkout_rate AS `Cart to Checkout`,
    checkout_to_purchase_rate AS `Checkout to Purchase`,
    conversion_rate AS `Conversion`,
    cart_abandonment_rate AS `Cart Abandonment`
FROM daily_funnel_metrics
ORDER BY session_date
