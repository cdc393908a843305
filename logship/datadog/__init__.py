"""The Datadog client: sites and URLs, answer classification, the logs intake sender."""
