"""walkforward: leakage-safe training and walk-forward evaluation of price-forecasting models."""

__version__ = "0.1.0"
