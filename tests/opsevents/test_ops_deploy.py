"""The ops events part of the SAM template: its EventBridge patterns run against the fixtures on moto, least-privilege IAM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode
from opsfixtures import FIXTURE_NAMES, fixture

from logship.settings import ALL_ENV_NAMES

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "template.yaml"
FUNCTION = "EventsFunction"
ROLE = "EventsFunctionRole"
QUEUE = "EventsFailureQueue"
RULES = ("EcsTaskStoppedRule", "EcsServiceRule", "EcsDeploymentRule", "PipelineRule", "CodeBuildRule", "StepFunctionsRule")
PROD = "arn:aws:ecs:ap-northeast-1:111122223333:cluster/prod"
NIGHTLY = "arn:aws:states:ap-northeast-1:111122223333:stateMachine:nightly-settlement"

#: Which rule each fixture reaches with every list parameter left empty (None: filtered out before the Lambda).
EXPECTED_ALL: dict[str, str | None] = {
    **{name: "EcsTaskStoppedRule" for name in FIXTURE_NAMES if name.startswith("ecs-task-")},
    "ecs-task-running": None,
    **{name: "EcsDeploymentRule" for name in FIXTURE_NAMES if name.startswith("ecs-deployment-")},
    "ecs-service-placement-failure-cpu": "EcsServiceRule",
    "ecs-service-placement-failure-fargate-spot": "EcsServiceRule",
    "ecs-service-task-start-impaired": "EcsServiceRule",
    "ecs-service-steady-state": None,
    "ecs-container-instance-unknown-detail-type": None,
    **{
        f"codepipeline-{state}": "PipelineRule"
        for state in ("started", "succeeded", "failed", "stopped", "canceled", "superseded")
    },
    "codepipeline-cancelled": None,  # the spelling logship accepts; CodePipeline sends CANCELED
    "codepipeline-resumed": None,
    "codepipeline-stopping": None,
    "codepipeline-stage-failed": None,
    "codepipeline-action-failed": None,
    "codepipeline-action-approval-rejected": None,
    "codebuild-failed": "CodeBuildRule",
    "codebuild-succeeded": "CodeBuildRule",
    "codebuild-stopped": "CodeBuildRule",
    "codebuild-in-progress": None,
    "codebuild-pipeline-initiated": None,  # left to the pipeline's own event
    **{f"stepfunctions-{s}": "StepFunctionsRule" for s in ("failed", "timed-out", "aborted", "succeeded")},
    "stepfunctions-running": None,
    "unknown-source": None,
}
EVENTBRIDGE_FIXTURES = [name for name in FIXTURE_NAMES if "source" in fixture(name)]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded, problems = decode(str(TEMPLATE))
    assert not problems and loaded is not None, problems
    return loaded


def resolve(node: Any, template: dict[str, Any], parameters: dict[str, Any]) -> Any:
    """``node`` with Ref (to a parameter), Fn::If, Fn::Equals, Fn::Join, Fn::Not, Fn::And and Condition worked out."""
    if isinstance(node, list):
        return [resolve(item, template, parameters) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (key, value), = node.items()
        if key == "Ref":
            declared = template["Parameters"][value]
            raw = parameters.get(value, declared.get("Default", ""))
            return raw.split(",") if declared["Type"] == "CommaDelimitedList" else raw
        if key == "Condition":
            return resolve(template["Conditions"][value], template, parameters)
        if key == "Fn::If":
            condition, when_true, when_false = value
            chosen = when_true if resolve({"Condition": condition}, template, parameters) else when_false
            return resolve(chosen, template, parameters)
        if key == "Fn::Equals":
            left, right = resolve(value, template, parameters)
            return left == right
        if key == "Fn::Join":
            separator, items = value
            return separator.join(resolve(items, template, parameters))
        if key == "Fn::Not":
            return not resolve(value[0], template, parameters)
        if key == "Fn::And":
            return all(resolve(item, template, parameters) for item in value)
    return {key: resolve(value, template, parameters) for key, value in node.items()}


def patterns(template: dict[str, Any], **parameters: str) -> dict[str, dict[str, Any]]:
    """Each rule's EventPattern as CloudFormation would deploy it with ``parameters``."""
    return {
        name: resolve(template["Resources"][name]["Properties"]["EventPattern"], template, parameters)
        for name in RULES
    }


def matches(local_aws, unique: str, rules: dict[str, dict[str, Any]]) -> Iterator[tuple[str, list[str]]]:
    """(fixture, rules it reached) for every EventBridge fixture, through rules on a moto event bus with SQS targets.

    moto does not implement TestEventPattern; a rule with a queue target runs the
    same pattern matcher on a real PutEvents.
    """
    events, sqs = local_aws.client("events"), local_aws.client("sqs")
    events.create_event_bus(Name=unique)
    queues = {}
    for name, pattern in rules.items():
        url = sqs.create_queue(QueueName=f"{unique}-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventBusName=unique, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=name, EventBusName=unique, Targets=[{"Id": "queue", "Arn": arn}])
        queues[name] = url
    for fixture_name in EVENTBRIDGE_FIXTURES:
        event = fixture(fixture_name)
        answer = events.put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Resources": event.get("resources", []),
                    "EventBusName": unique,
                }
            ]
        )
        assert answer["FailedEntryCount"] == 0, answer
        reached = []
        for name, url in queues.items():
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            for message in messages:
                assert json.loads(message["Body"])["detail"] == event["detail"]
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            reached += [name] * len(messages)
        yield fixture_name, reached


def test_every_eventbridge_fixture_has_an_expected_rule():
    """The table above covers every EventBridge fixture, so a new fixture must say which rule it reaches."""
    assert set(EXPECTED_ALL) == set(EVENTBRIDGE_FIXTURES)


def test_patterns_send_each_fixture_to_its_rule_and_filter_the_noise(template, local_aws, unique):
    """With every list empty, each fixture reaches exactly its rule, and the noise (RUNNING tasks, ...) reaches none."""
    reached = dict(matches(local_aws, unique, patterns(template)))
    expected = {name: [rule] if rule else [] for name, rule in EXPECTED_ALL.items()}
    assert reached == expected
    assert sum(1 for rules in reached.values() if not rules) >= 10


def test_patterns_watch_only_the_named_clusters_pipelines_projects_and_state_machines(template, local_aws, unique):
    """With the list parameters set, only events of those resources pass; deployments name no cluster and still pass."""
    chosen = patterns(
        template,
        EcsClusterArns=PROD,
        PipelineNames="another-pipeline",
        CodeBuildProjectNames="web-test,web-build",
        StateMachineArns=f"{NIGHTLY},arn:aws:states:ap-northeast-1:111122223333:stateMachine:other",
    )
    reached = dict(matches(local_aws, unique, chosen))
    for name, rule in EXPECTED_ALL.items():
        event = fixture(name)
        cluster = event["detail"].get("clusterArn")
        if rule in ("EcsTaskStoppedRule", "EcsServiceRule"):
            assert reached[name] == ([rule] if cluster == PROD else []), name
        elif rule == "PipelineRule":
            assert reached[name] == [], name
        else:
            assert reached[name] == ([rule] if rule else []), name
    assert any(reached[n] for n in EXPECTED_ALL if n.startswith("ecs-task-")) and not all(
        reached[n] for n in EXPECTED_ALL if EXPECTED_ALL[n] == "EcsTaskStoppedRule"
    )


def test_the_function_runs_the_events_handler_from_the_same_package(template):
    """EventsFunction is handlers.events.handler, built by the Makefile like the others, with settings logship reads."""
    properties = template["Resources"][FUNCTION]["Properties"]
    assert properties["Handler"] == "handlers.events.handler"
    assert template["Resources"][FUNCTION]["Metadata"] == template["Resources"]["LogshipFunction"]["Metadata"]
    assert properties["CodeUri"] == template["Resources"]["LogshipFunction"]["Properties"]["CodeUri"]
    variables = properties["Environment"]["Variables"]
    assert set(variables) <= set(ALL_ENV_NAMES)
    assert "SLACK_WEBHOOK_URL" not in variables and "DD_API_KEY" not in variables  # secrets by reference only
    assert variables["SLACK_WEBHOOK_URL_SSM_NAME"] == {"Ref": "SlackWebhookSsmName"}
    assert variables["SLACK_WEBHOOK_URL_SECRET_ARN"] == {"Ref": "SlackWebhookSecretArn"}
    assert variables["LOGSHIP_DEAD_LETTER_URI"] == {"Fn::Sub": "s3://${LogBucket}/dead-letter/"}


def grants(template: dict[str, Any]) -> list[tuple[str, Any]]:
    """(action, resource) of every statement of the function's role, conditional ones included."""
    pairs = []
    for policy in template["Resources"][ROLE]["Properties"]["Policies"]:
        for item in policy["PolicyDocument"]["Statement"]:
            statement = item["Fn::If"][1] if "Fn::If" in item else item
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            pairs += [(action, statement["Resource"]) for action in actions]
    return pairs


def test_the_role_may_do_only_what_the_function_does(template):
    """Own logs; PutObject under dead-letter/opsevents/; SendMessage to its queue; read the named key and webhook."""
    assert sorted(grants(template), key=str) == sorted(
        [
            ("logs:CreateLogStream", {"Fn::GetAtt": ["EventsLogGroup", "Arn"]}),
            ("logs:PutLogEvents", {"Fn::GetAtt": ["EventsLogGroup", "Arn"]}),
            ("s3:PutObject", {"Fn::Sub": "${LogBucket.Arn}/dead-letter/opsevents/*"}),
            ("sqs:SendMessage", {"Fn::GetAtt": [QUEUE, "Arn"]}),
            (
                "ssm:GetParameter",
                {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${DatadogApiKeySsmName}"},
            ),
            ("secretsmanager:GetSecretValue", {"Ref": "DatadogApiKeySecretArn"}),
            ("kms:Decrypt", {"Ref": "DatadogApiKeyKmsKeyArn"}),
            (
                "ssm:GetParameter",
                {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SlackWebhookSsmName}"},
            ),
            ("secretsmanager:GetSecretValue", {"Ref": "SlackWebhookSecretArn"}),
        ],
        key=str,
    )
    conditions = {
        statement["Fn::If"][1]["Sid"]: statement["Fn::If"][0]
        for policy in template["Resources"][ROLE]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if "Fn::If" in statement
    }
    assert conditions["ReadWebhookParameter"] == "WebhookInSsm"
    assert conditions["ReadWebhookSecret"] == "WebhookInSecretsManager"


def test_eventbridge_may_invoke_the_function_for_these_rules_only(template):
    """One permission per rule, for events.amazonaws.com, limited to that rule's ARN; each rule targets the function."""
    permissions = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Permission" and r.get("Condition") == "OpsEvents"
    ]
    assert sorted(p["SourceArn"]["Fn::GetAtt"][0] for p in permissions) == sorted(RULES)
    for permission in permissions:
        assert permission["Principal"] == "events.amazonaws.com"
        assert permission["FunctionName"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
        assert permission["Action"] == "lambda:InvokeFunction"
    for rule in RULES:
        (target,) = template["Resources"][rule]["Properties"]["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}


def test_a_failed_invocation_is_retried_then_kept_in_the_queue(template):
    """Lambda retries a failed event twice, then sends it to the SQS on-failure destination, kept 14 days."""
    (config,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig" and r.get("Condition") == "OpsEvents"
    ]
    assert config["FunctionName"] == {"Ref": FUNCTION}
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [QUEUE, "Arn"]}
    assert template["Resources"][QUEUE]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_alarms_watch_the_function_errors_and_the_failure_queue(template):
    """An alarm on the function's Errors and one on messages waiting in the failure queue, both to the optional topic."""
    found = {
        r["Properties"]["MetricName"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r.get("Condition") == "OpsEvents"
    }
    assert set(found) == {"Errors", "ApproximateNumberOfMessagesVisible"}
    assert found["Errors"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": FUNCTION}}]
    queue = found["ApproximateNumberOfMessagesVisible"]
    assert queue["Namespace"] == "AWS/SQS"
    assert queue["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [QUEUE, "QueueName"]}}]
    expected = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    for alarm in found.values():
        assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["AlarmActions"] == alarm["OKActions"] == expected


def test_everything_of_ops_events_can_be_left_out(template):
    """Every ops events resource and output carries the OpsEvents condition (CreateOpsEvents=false leaves none)."""
    ops = {"EventsLogGroup", QUEUE, ROLE, FUNCTION, "EventsFunctionInvokeConfig", *RULES}
    ops |= {name for name, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::Permission"
            and r["Properties"]["FunctionName"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}}  # fmt: skip
    ops |= {name for name, r in template["Resources"].items() if r.get("Condition") == "OpsEvents"}
    for name in ops:
        assert template["Resources"][name]["Condition"] == "OpsEvents", name
    for name, output in template["Outputs"].items():
        if name.startswith("Events"):
            assert output["Condition"] == "OpsEvents", name
    assert template["Conditions"]["OpsEvents"] == {"Fn::Equals": [{"Ref": "CreateOpsEvents"}, "true"]}
