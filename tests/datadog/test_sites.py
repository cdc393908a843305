"""Intake URLs agree with Datadog's official client for every site it knows."""

from __future__ import annotations

import pytest
from datadog_api_client import Configuration
from datadog_api_client.v2.api.logs_api import LogsApi

from logship.datadog.sites import SITES
from logship.settings import Settings

_ENDPOINT = LogsApi()._submit_log_endpoint.settings
_SITES = _ENDPOINT["servers"][0]["variables"]["site"]["enum_values"]


def test_logship_knows_exactly_the_sites_datadogs_client_knows():
    """SITES (what DD_SITE accepts) is datadog-api-client's list of sites: none missing, none made up."""
    assert sorted(SITES) == sorted(_SITES)
    assert len(set(SITES)) == len(SITES)


def test_the_client_knows_the_documented_sites():
    """The official client's site list holds the sites the contracts name, so the check below is broad."""
    assert {"datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu", "ap1.datadoghq.com", "ddog-gov.com"} <= set(_SITES)


@pytest.mark.parametrize("site", _SITES)
def test_intake_url_matches_datadog_api_client(site):
    """For each DD_SITE, logship posts to the URL datadog-api-client builds for submit_log."""
    host = Configuration().get_host_from_settings(0, variables={"site": site}, servers=_ENDPOINT["servers"])
    assert Settings.from_env({"DD_SITE": site}).logs.url == host + _ENDPOINT["endpoint_path"]
