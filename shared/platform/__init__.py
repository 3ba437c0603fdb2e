"""The Azure platform around the bridge: settings, queues, the status table, logs, telemetry, retries."""
