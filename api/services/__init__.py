"""Services between the routers and the cores: composition that is not HTTP and not algorithm."""
