"""The Firehose transformation: decode -> tag -> route (S3 output, re-ingest, Datadog).

:mod:`~logship.firehose.event` reads the Firehose event, :mod:`~logship.firehose.subscription`
decodes each record's CloudWatch Logs subscription message, :mod:`~logship.firehose.tags`
reads tags from the log group and stream, :mod:`~logship.firehose.entries` builds Datadog
entries, :mod:`~logship.firehose.s3_output` what S3 keeps, :mod:`~logship.firehose.budget`
keeps the response inside Lambda's limit, :mod:`~logship.firehose.reingest` puts back what
does not fit, and :mod:`~logship.firehose.transform` decides each record's outcome in one
pass. :mod:`~logship.firehose.app` wires them to Datadog and the dead letter.
"""
