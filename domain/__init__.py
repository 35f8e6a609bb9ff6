"""The customer-service domain: the Incident aggregate, its rules and the Incidents application."""
