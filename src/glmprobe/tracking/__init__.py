"""Run records (record.json beside every output) and the single MLflow writer."""
