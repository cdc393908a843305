"""The development kit: a Datadog emulator, a local AWS (moto), a Firehose stand-in and synthetic events.

Used by tests, the demo and the benchmarks, and by other pipelines' tests. The
Lambda never imports this package, and the Lambda zip leaves it out.
"""
