"""The composition root: settings, logging, the embedded broker, the `ticketstream` CLI and the demo."""
