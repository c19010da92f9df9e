"""What makes a customer valuable, shared by the segments and the ML features, so that `high`
value means the same amount in both."""

from __future__ import annotations

from decimal import Decimal

VALUE_TIERS = (("high", Decimal(5000)), ("medium", Decimal(1000)))
"""The least lifetime value (USD, item revenue before tax) of each tier, best first; below
the last: `low`."""
HIGH_VALUE = VALUE_TIERS[0][1]
