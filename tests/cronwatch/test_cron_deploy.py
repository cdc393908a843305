"""The run watch in the SAM template: its function, schedules, least-privilege role, alarm, and that it can be left out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

from logship.cronwatch.schedule import parse_schedule
from logship.settings import ALL_ENV_NAMES

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "template.yaml"
FUNCTION = "WatchFunction"
ROLE = "WatchFunctionRole"
RULES = {"WatchScheduleRule": "RunWatch", "WatchSummaryRule": "WatchSummary"}
# (action, resource) the role may use: read-only, and each resource as narrow as IAM allows.
ACCOUNT = "arn:${AWS::Partition}:{service}:${AWS::Region}:${AWS::AccountId}"
EXPECTED_GRANTS = {
    ("logs:CreateLogStream", "WatchLogGroup"),
    ("logs:PutLogEvents", "WatchLogGroup"),
    ("ecs:ListClusters", "*"),
    ("ecs:ListTasks", "*"),
    ("ecs:DescribeTaskDefinition", "*"),
    ("events:ListRules", "*"),
    ("scheduler:ListSchedules", "*"),
    ("ecs:DescribeClusters", ACCOUNT.replace("{service}", "ecs") + ":cluster/*"),
    ("ecs:DescribeTasks", ACCOUNT.replace("{service}", "ecs") + ":task/*"),
    ("events:ListTargetsByRule", ACCOUNT.replace("{service}", "events") + ":rule/*"),
    ("events:ListTagsForResource", ACCOUNT.replace("{service}", "events") + ":rule/*"),
    ("scheduler:GetSchedule", ACCOUNT.replace("{service}", "scheduler") + ":schedule/*/*"),
    ("s3:GetObject", "jobs file"),
    ("ssm:GetParameter", "DatadogApiKeySsmName"),
    ("secretsmanager:GetSecretValue", "DatadogApiKeySecretArn"),
    ("kms:Decrypt", "DatadogApiKeyKmsKeyArn"),
    ("ssm:GetParameter", "SlackWebhookSsmName"),
    ("secretsmanager:GetSecretValue", "SlackWebhookSecretArn"),
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded, problems = decode(str(TEMPLATE))
    assert not problems and loaded is not None, problems
    return loaded


def resource_name(resource: Any) -> str:
    """A statement's resource, as the short name EXPECTED_GRANTS uses."""
    if resource == "*":
        return "*"
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return str(resource["Fn::GetAtt"][0])
    if isinstance(resource, dict) and "Ref" in resource:
        return str(resource["Ref"])
    sub = resource["Fn::Sub"]
    if isinstance(sub, list):  # the jobs file: arn:...:s3:::${Path} with Path from WatchJobsFileUri
        assert sub[1]["Path"] == {"Fn::Select": [1, {"Fn::Split": ["s3://", {"Ref": "WatchJobsFileUri"}]}]}
        return "jobs file"
    for parameter in ("DatadogApiKeySsmName", "SlackWebhookSsmName"):
        if sub.endswith("parameter${" + parameter + "}"):
            return parameter
    return str(sub)


def statements(template: dict[str, Any]) -> list[tuple[dict[str, Any], str | None]]:
    """Each statement of the role, with the condition it is under (None when always there)."""
    found = []
    for policy in template["Resources"][ROLE]["Properties"]["Policies"]:
        for item in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in item:
                condition, statement, otherwise = item["Fn::If"]
                assert otherwise == {"Ref": "AWS::NoValue"}
                found.append((statement, condition))
            else:
                found.append((item, None))
    return found


def test_the_role_may_only_read_what_the_watch_reads(template):
    """Own logs, ECS and EventBridge and Scheduler reads, the jobs file, and the key and webhook it is given; nothing else."""
    grants = set()
    for statement, _ in statements(template):
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        grants |= {(action, resource_name(statement["Resource"])) for action in actions}
    assert grants == EXPECTED_GRANTS


def test_the_conditional_grants_follow_their_parameters(template):
    """The jobs file, key and webhook grants exist only when their parameter is set (and the watch is created)."""
    conditions = {statement["Sid"]: condition for statement, condition in statements(template) if condition}
    assert conditions == {
        "ReadJobsFile": "WatchJobsFile",
        "ReadApiKeyParameter": "KeyInSsm",
        "ReadApiKeySecret": "KeyInSecretsManager",
        "DecryptApiKey": "KeyUsesCustomerKms",
        "ReadWebhookParameter": "WatchWebhookInSsm",
        "ReadWebhookSecret": "WatchWebhookInSecretsManager",
    }
    assert template["Conditions"]["WatchWebhookInSsm"]["Fn::And"][0] == {"Condition": "RunWatch"}


def test_the_function_runs_the_watch_handler_from_the_same_package(template):
    """handlers.watch.handler, built by the Makefile as the others, with settings logship reads and secrets by reference."""
    function = template["Resources"][FUNCTION]
    properties = function["Properties"]
    assert properties["Handler"] == "handlers.watch.handler"
    assert function["Metadata"] == template["Resources"]["LogshipFunction"]["Metadata"]
    assert properties["Role"] == {"Fn::GetAtt": [ROLE, "Arn"]}
    variables = properties["Environment"]["Variables"]
    assert set(variables) <= set(ALL_ENV_NAMES)
    assert not {"DD_API_KEY", "SLACK_WEBHOOK_URL", "LOGSHIP_DEAD_LETTER_URI"} & set(variables)
    assert variables["LOGSHIP_JOBS_FILE"] == {"Ref": "WatchJobsFileUri"}


def test_it_runs_every_minute_and_posts_the_digest_every_fifteen(template):
    """The default schedules are valid expressions; the summary rule sends {"summary": true}; each may invoke it."""
    parameters = template["Parameters"]
    assert parameters["WatchSchedule"]["Default"] == "rate(1 minute)"
    assert parameters["WatchSummarySchedule"]["Default"] == "rate(15 minutes)"
    for name in ("WatchSchedule", "WatchSummarySchedule"):
        parse_schedule(parameters[name]["Default"])
    for rule, condition in RULES.items():
        resource = template["Resources"][rule]
        assert resource["Condition"] == condition
        (target,) = resource["Properties"]["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
    summary_target = template["Resources"]["WatchSummaryRule"]["Properties"]["Targets"][0]
    assert summary_target["Input"] == '{"summary": true}'
    permissions = {
        r["Properties"]["SourceArn"]["Fn::GetAtt"][0]: r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["FunctionName"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
    }
    assert set(permissions) == set(RULES)
    assert all(p["Properties"]["Principal"] == "events.amazonaws.com" for p in permissions.values())


def test_a_failed_run_is_not_retried_and_its_errors_alarm(template):
    """No Lambda retry (the next run replaces it); an alarm on the function's Errors, to the optional topic."""
    config = template["Resources"]["WatchFunctionInvokeConfig"]["Properties"]
    assert (config["FunctionName"], config["MaximumRetryAttempts"]) == ({"Ref": FUNCTION}, 0)
    (alarm,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r.get("Condition") == "RunWatch"
    ]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Lambda", "Errors", "Sum")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": FUNCTION}}]
    assert alarm["Threshold"] == 0 and alarm["TreatMissingData"] == "notBreaching"
    expected = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    assert alarm["AlarmActions"] == alarm["OKActions"] == expected


def test_everything_of_the_run_watch_can_be_left_out(template):
    """CreateRunWatch=false leaves out every resource and output of the watch."""
    assert template["Conditions"]["RunWatch"] == {"Fn::Equals": [{"Ref": "CreateRunWatch"}, "true"]}
    watch = {name for name in template["Resources"] if name.startswith("Watch")}
    assert {"WatchLogGroup", ROLE, FUNCTION, "WatchFunctionInvokeConfig", *RULES} <= watch
    for name in watch:
        assert template["Resources"][name]["Condition"] in ("RunWatch", "WatchSummary"), name
    assert template["Conditions"]["WatchSummary"]["Fn::And"][0] == {"Condition": "RunWatch"}
    assert template["Outputs"]["WatchFunctionName"]["Condition"] == "RunWatch"
