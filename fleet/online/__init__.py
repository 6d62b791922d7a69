"""Online dispatch of the on-demand shuttle: decisions, promises, rebalancing, charging."""
