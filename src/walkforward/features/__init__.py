"""The feature service: causal indicators, the Parquet feature store, ingest and the demo market."""
