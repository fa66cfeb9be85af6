"""The compatibility endpoint for deployed clients: ``streaming.StreamingService``."""
