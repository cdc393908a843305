"""Lambda entry point of the custom resource that subscribes log groups: ``handlers.subscriptions.handler``.

CloudFormation invokes it with Create, Update and Delete requests; the work is
in :mod:`logship.subscription_filters`, which always answers CloudFormation. Importing
this module does no I/O and creates no AWS client.
"""

from __future__ import annotations

import os
from typing import Any

from logship.jsonlog import configure_logging
from logship.settings import LOGSHIP_LOG_LEVEL
from logship.subscription_filters import LambdaContext, handle

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, str]:
    """Put, update or delete one subscription filter per listed log group, then answer CloudFormation."""
    level = os.environ.get(LOGSHIP_LOG_LEVEL, "INFO").upper()
    configure_logging(level if level in _LEVELS else "INFO")
    return handle(event, context)
