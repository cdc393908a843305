"""Hard limits of the services logship sits between, each with its source.

Every number that bounds a request, a response or a record lives here once.
"""

from __future__ import annotations

# --- AWS Lambda -----------------------------------------------------------
# Synchronous invocation response payload quota: 6 MB. The runtime error quotes
# 6,291,556 bytes; the Firehose CloudWatch Logs processor blueprint cuts at
# 6,000,000 to keep a margin, and so do we by default.
LAMBDA_RESPONSE_HARD_LIMIT_BYTES = 6_291_556
DEFAULT_RESPONSE_LIMIT_BYTES = 6_000_000

# --- Kinesis Data Firehose ------------------------------------------------
# PutRecordBatch: 500 records, 4 MiB per call, 1,000 KiB per record (before
# base64). Firehose API reference, PutRecordBatch.
FIREHOSE_BATCH_MAX_RECORDS = 500
FIREHOSE_BATCH_MAX_BYTES = 4 * 1024 * 1024
FIREHOSE_RECORD_MAX_BYTES = 1_000 * 1024

# --- Kinesis Data Streams -------------------------------------------------
# PutRecords: 500 records, 1 MiB per record, 5 MiB per call; the partition key
# counts towards the record size. Kinesis API reference, PutRecords.
KINESIS_BATCH_MAX_RECORDS = 500
KINESIS_BATCH_MAX_BYTES = 5 * 1024 * 1024
KINESIS_RECORD_MAX_BYTES = 1024 * 1024

# --- Datadog HTTP logs intake v2 -----------------------------------------
# Per request: at most 5 MB uncompressed and 1,000 entries; per log 1 MB.
# https://docs.datadoghq.com/api/latest/logs/#send-logs
DATADOG_MAX_ENTRIES_PER_REQUEST = 1_000
DATADOG_MAX_REQUEST_BYTES = 5_000_000
DATADOG_MAX_LOG_BYTES = 1_000_000
# Datadog drops logs dated more than 18 hours in the past or 2 hours in the future
# (still answering 202). Log date remapper notes:
# https://docs.datadoghq.com/logs/log_configuration/processors/log_date_remapper/
DATADOG_MAX_LOG_AGE_SECONDS = 18 * 3600
DATADOG_MAX_LOG_FUTURE_SECONDS = 2 * 3600
# Aim below the hard request cap, as Vector's Datadog logs sink does (4.25 MB),
# so framing and estimate drift never cross 5 MB.
DATADOG_TARGET_REQUEST_BYTES = 4_250_000

# --- logship's own safety caps --------------------------------------------
# A Firehose record is at most 1,000 KiB compressed; CloudWatch data inflates
# 5-20x. 64 MiB decompressed per record is far above anything legitimate and
# stops a gzip bomb long before it can exhaust a 256 MB Lambda.
DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024
