"""Background work: the follow-up ticker, the broadcast engine, the exporter, pacing and leadership."""
