"""Time series in one place: frames and I/O, datasets, scaling, windows, the Forecaster, baselines,
metrics, backtests, anomaly detection, plots."""
