"""The SAM template, the Lambda zip build and the deploy docs, checked against logship itself."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cfnlint.decode import decode
from lambda_runtime import run_in_task_root, runtime_python
from test_fluentbit import CONFIG as FLUENTBIT_CONFIG
from test_fluentbit import fields_set_from_env, parse_classic

from logship import subscription_filters
from logship.settings import ALL_ENV_NAMES, DD_API_KEY

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "template.yaml"
BUILD_SCRIPT = ROOT / "deploy" / "build_zip.py"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
# What logship returns in metadata.partitionKeys when LOGSHIP_PARTITION_KEYS is on.
PARTITION_KEYS = {"system", "service", "application"}
FIREHOSE_MAX_PROCESSOR_BUFFER_MB = 3.0
FIREHOSE_MIN_PROCESSOR_BUFFER_MB = 0.2
FIREHOSE_MAX_INVOCATION_SECONDS = 300
LAMBDA_MAX_TIMEOUT_SECONDS = 900


def load_build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_zip", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


build_zip = load_build_module()


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded, problems = decode(str(TEMPLATE))
    assert not problems, problems
    assert loaded is not None
    return loaded


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if isinstance(resource, dict) and resource.get("Type") == kind
    }


#: Logical ids of the functions: the Firehose transformation, the subscriptions custom resource, ops events,
#: cron watch's run watch.
TRANSFORM_FUNCTION = "LogshipFunction"
SUBSCRIPTIONS_FUNCTION = "SubscriptionsFunction"
EVENTS_FUNCTION = "EventsFunction"
WATCH_FUNCTION = "WatchFunction"
FUNCTIONS = (TRANSFORM_FUNCTION, SUBSCRIPTIONS_FUNCTION, EVENTS_FUNCTION, WATCH_FUNCTION)
MAKEFILE = ROOT / "Makefile"


def function_properties(template: dict[str, Any], name: str = TRANSFORM_FUNCTION) -> dict[str, Any]:
    functions = resources_of(template, "AWS::Serverless::Function")
    assert set(functions) == set(FUNCTIONS), sorted(functions)
    return functions[name]["Properties"]


#: Logical ids of the two delivery streams: the Lambda path's and the FireLens sidecars'.
LAMBDA_STREAM = "DeliveryStream"
FIRELENS_STREAM = "FireLensDeliveryStream"


def stream_destination(template: dict[str, Any], stream: str = LAMBDA_STREAM) -> dict[str, Any]:
    return template["Resources"][stream]["Properties"]["ExtendedS3DestinationConfiguration"]


def jq_object_fields(query: str) -> dict[str, str]:
    """``{key: .field, ...}`` (the only jq form used here) as key -> field; anything else fails."""
    match = re.fullmatch(r"\s*\{(.*)\}\s*", query)
    assert match, query
    pairs = [part.strip() for part in match.group(1).split(",")]
    fields = {}
    for pair in pairs:
        item = re.fullmatch(r"([A-Za-z_]\w*)\s*:\s*\.([A-Za-z_]\w*)", pair)
        assert item, f"not a plain key: .field pair: {pair!r}"
        fields[item.group(1)] = item.group(2)
    return fields


def firelens_processors(template: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The FireLens stream's processors by type, each with its parameters by name."""
    processing = stream_destination(template, FIRELENS_STREAM)["ProcessingConfiguration"]
    assert processing["Enabled"] is True
    return {
        processor["Type"]: {p["ParameterName"]: p["ParameterValue"] for p in processor.get("Parameters", [])}
        for processor in processing["Processors"]
    }


def processor_parameters(template: dict[str, Any]) -> dict[str, Any]:
    (processor,) = stream_destination(template)["ProcessingConfiguration"]["Processors"]
    assert processor["Type"] == "Lambda"
    return {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}


def branches(value: Any) -> list[Any]:
    """Every value an ``Fn::If`` may take (a plain value is its only branch); NoValue drops out."""
    if isinstance(value, dict) and "Fn::If" in value:
        _, when_true, when_false = value["Fn::If"]
        return branches(when_true) + branches(when_false)
    if value == {"Ref": "AWS::NoValue"}:
        return []
    return [value]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in as_list(document.get("Statement", [])):
        yield from branches(item)


def policy_documents(resource: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every permission policy a resource carries (trust policies excluded), with a label."""
    properties = resource.get("Properties", {})
    kind = resource.get("Type")
    if kind == "AWS::IAM::Role":
        for policy in properties.get("Policies", []):
            yield policy["PolicyName"], policy["PolicyDocument"]
    elif kind in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::S3::BucketPolicy"}:
        yield kind, properties["PolicyDocument"]
    elif kind == "AWS::Serverless::Function":
        for index, policy in enumerate(as_list(properties.get("Policies", []))):
            yield f"Policies[{index}]", policy


#: Actions IAM authorizes on "*" only: the Service Authorization Reference lists no resource type for them
#: (ecs:ListTasks names an optional container-instance, which a call without one does not use).
#: test_wildcard_resources_are_only_for_actions_without_resource_types checks the list against cfn-lint's copy.
RESOURCE_WILDCARD_ACTIONS = frozenset(
    {"ecs:ListClusters", "ecs:ListTasks", "ecs:DescribeTaskDefinition", "events:ListRules", "scheduler:ListSchedules"}
)


def is_wildcard(value: Any) -> bool:
    if isinstance(value, dict) and "Fn::Sub" in value:
        value = value["Fn::Sub"]
    return value == "*"


def wildcard_grants(template: dict[str, Any]) -> list[str]:
    """Every Allow that grants all actions of a service or any resource, or cannot be checked."""
    problems = []
    for name, resource in template["Resources"].items():
        if not isinstance(resource, dict):
            continue
        properties = resource.get("Properties", {})
        for arn in as_list(properties.get("ManagedPolicyArns", [])):
            problems.append(f"{name}: managed policy {arn} cannot be checked here")
        for label, document in policy_documents(resource):
            if not isinstance(document, dict) or "Statement" not in document:
                problems.append(f"{name} {label}: not a policy document ({document!r})")
                continue
            for statement in statements(document):
                if statement.get("Effect") != "Allow":
                    continue
                where = f"{name} {label} {statement.get('Sid', '')}".strip()
                if "NotAction" in statement or "NotResource" in statement:
                    problems.append(f"{where}: NotAction/NotResource grants everything else")
                actions = as_list(statement.get("Action", []))
                for action in actions:
                    if not isinstance(action, str) or action == "*" or action.endswith(":*"):
                        problems.append(f"{where}: action {action!r}")
                needs_wildcard = bool(actions) and set(actions) <= RESOURCE_WILDCARD_ACTIONS
                for target in as_list(statement.get("Resource", [])):
                    for value in branches(target):
                        if is_wildcard(value) and not needs_wildcard:
                            problems.append(f"{where}: resource '*'")
    return problems


def allowed(template: dict[str, Any], role: str, prefix: str) -> list[tuple[str, Any]]:
    """List the (action, resource) pairs ``role`` allows for actions starting with ``prefix``."""
    pairs = []
    for _, document in policy_documents(template["Resources"][role]):
        for statement in statements(document):
            for action in as_list(statement["Action"]):
                if action.startswith(prefix):
                    pairs += [(action, target) for target in as_list(statement["Resource"])]
    return pairs


def test_template_passes_cfn_lint() -> None:
    """cfn-lint finds nothing to report in deploy/template.yaml, warnings included."""
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    command = str(cfn_lint) if cfn_lint.exists() else shutil.which("cfn-lint")
    assert command, "cfn-lint is not installed (pip install cfn-lint)"
    result = subprocess.run([command, str(TEMPLATE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("function", FUNCTIONS)
def test_lambda_environment_only_names_settings_logship_reads(template: dict[str, Any], function: str) -> None:
    """Every environment variable the template gives a function is one logship reads."""
    names = set(function_properties(template, function)["Environment"]["Variables"])
    assert names, "the function has no environment"
    assert names <= set(ALL_ENV_NAMES), sorted(names - set(ALL_ENV_NAMES))


def test_api_key_never_sits_in_the_environment(template: dict[str, Any]) -> None:
    """The template points at an SSM parameter or a secret and never sets the key itself."""
    variables = function_properties(template)["Environment"]["Variables"]
    assert DD_API_KEY not in variables
    assert {"DD_API_KEY_SSM_NAME", "DD_API_KEY_SECRET_ARN"} <= set(variables)


def test_no_policy_grants_a_wildcard_action_or_resource(template: dict[str, Any]) -> None:
    """No IAM statement in the template allows '*' or 'service:*' actions or a '*' resource."""
    assert wildcard_grants(template) == []


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}, "action '*'"),
        ({"Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:aws:s3:::b"}, "action 's3:*'"),
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, "resource '*'"),
        (
            {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": {"Fn::Sub": "*"}},
            "resource '*'",
        ),
        (
            {
                "Fn::If": [
                    "C",
                    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": ["*"]},
                    {"Ref": "AWS::NoValue"},
                ]
            },
            "resource '*'",
        ),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b"}, "NotAction"),
        ({"Effect": "Allow", "Action": ["ecs:ListClusters", "ecs:StopTask"], "Resource": "*"}, "resource '*'"),
    ],
)
def test_wildcard_checker_flags_a_bad_policy(statement: dict[str, Any], expected: str) -> None:
    """The IAM check above reports each kind of over-broad grant it is meant to catch."""
    bad = {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Policies": [
                        {
                            "PolicyName": "p",
                            "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
                        }
                    ]
                },
            }
        }
    }
    problems = wildcard_grants(bad)
    assert len(problems) == 1 and expected in problems[0], problems


def test_wildcard_resources_are_only_for_actions_without_resource_types() -> None:
    """Each action allowed on "*" has no resource type in the Service Authorization Reference (cfn-lint's copy)."""
    import json

    import cfnlint

    policies = json.loads((Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json").read_text())
    for action in RESOURCE_WILDCARD_ACTIONS:
        service, name = action.split(":")
        entry = policies[service]["Actions"][name.lower()]
        allowed = {"ecs:ListTasks": ["container-instance"]}.get(action, [])
        assert entry.get("Resources", []) == allowed, (action, entry)


def test_wildcard_checker_flags_managed_policies() -> None:
    """A role with an AWS managed policy is reported, since its contents are not in the template."""
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
    }
    assert wildcard_grants({"Resources": {"Role": role}}) != []


def test_function_reingests_into_its_own_stream_only(template: dict[str, Any]) -> None:
    """The function may PutRecordBatch on the stream named by DeliveryStreamName and nowhere else."""
    role = function_properties(template)["Role"]["Fn::GetAtt"][0]
    grants = allowed(template, role, "firehose:")
    own = {
        "Fn::Sub": "arn:${AWS::Partition}:firehose:${AWS::Region}:${AWS::AccountId}"
        ":deliverystream/${DeliveryStreamName}"
    }
    assert grants == [("firehose:PutRecordBatch", own)]
    stream = template["Resources"][LAMBDA_STREAM]
    assert stream["Properties"]["DeliveryStreamName"] == {"Ref": "DeliveryStreamName"}


def test_function_writes_dead_letters_under_the_prefix_it_is_given(template: dict[str, Any]) -> None:
    """LOGSHIP_DEAD_LETTER_URI names the one S3 prefix the function may write, and nothing else in S3."""
    properties = function_properties(template)
    role = properties["Role"]["Fn::GetAtt"][0]
    uri = properties["Environment"]["Variables"]["LOGSHIP_DEAD_LETTER_URI"]["Fn::Sub"]
    match = re.fullmatch(r"s3://\$\{(\w+)\}/([\w-]+/)", uri)
    assert match, uri
    bucket, prefix = match.groups()
    assert allowed(template, role, "s3:") == [("s3:PutObject", {"Fn::Sub": f"${{{bucket}.Arn}}/{prefix}*"})]


def test_api_key_grant_names_the_parameter_or_secret(template: dict[str, Any]) -> None:
    """The function may read exactly the SSM parameter or secret named by the stack's parameters."""
    role = function_properties(template)["Role"]["Fn::GetAtt"][0]
    ssm = allowed(template, role, "ssm:")
    secrets = allowed(template, role, "secretsmanager:")
    assert [action for action, _ in ssm] == ["ssm:GetParameter"]
    assert "parameter${DatadogApiKeySsmName}" in ssm[0][1]["Fn::Sub"]
    assert secrets == [("secretsmanager:GetSecretValue", {"Ref": "DatadogApiKeySecretArn"})]


def test_stream_partitions_s3_by_the_keys_logship_returns(template: dict[str, Any]) -> None:
    """Dynamic partitioning is on, objects go to <system>/<service>/yyyy/MM/dd/, logship returns keys."""
    destination = stream_destination(template)
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    prefix = destination["Prefix"]
    assert prefix.startswith(
        "!{partitionKeyFromLambda:system}/!{partitionKeyFromLambda:service}/!{timestamp:yyyy/MM/dd}/"
    )
    assert set(re.findall(r"!\{partitionKeyFromLambda:(\w+)\}", prefix)) <= PARTITION_KEYS
    # Firehose refuses a dynamically partitioned stream whose error prefix lacks this.
    assert "!{firehose:error-output-type}" in destination["ErrorOutputPrefix"]
    assert destination["BufferingHints"]["SizeInMBs"] >= 64
    variables = function_properties(template)["Environment"]["Variables"]
    assert variables["LOGSHIP_PARTITION_KEYS"] == "true"


def test_processor_buffer_keeps_responses_inside_six_megabytes(template: dict[str, Any]) -> None:
    """The processor buffer is within Firehose's range, 1 MB at most with gzip and smaller without."""
    size = processor_parameters(template)["BufferSizeInMBs"]
    condition, with_gzip, without = size["Fn::If"]
    assert template["Conditions"][condition] == {"Fn::Equals": [{"Ref": "OutputCompression"}, "gzip"]}
    for value in (with_gzip, without):
        assert FIREHOSE_MIN_PROCESSOR_BUFFER_MB <= float(value) <= FIREHOSE_MAX_PROCESSOR_BUFFER_MB
    assert float(with_gzip) <= 1.0
    assert float(without) < float(with_gzip)


def test_s3_objects_are_not_compressed_twice(template: dict[str, Any]) -> None:
    """Firehose stores logship's gzipped records as they are, in .gz objects, when logship gzips."""
    destination = stream_destination(template)
    assert destination["CompressionFormat"] == "UNCOMPRESSED"
    condition, gzip_extension, _ = destination["FileExtension"]["Fn::If"]
    assert condition == "GzipOutput" and gzip_extension == ".gz"
    variables = function_properties(template)["Environment"]["Variables"]
    assert variables["LOGSHIP_OUTPUT_COMPRESSION"] == {"Ref": "OutputCompression"}


@pytest.mark.parametrize(
    ("function", "handler"),
    [
        (TRANSFORM_FUNCTION, "handlers.firehose.handler"),
        (SUBSCRIPTIONS_FUNCTION, "handlers.subscriptions.handler"),
        (EVENTS_FUNCTION, "handlers.events.handler"),
        (WATCH_FUNCTION, "handlers.watch.handler"),
    ],
)
def test_functions_run_their_handler_on_the_build_scripts_platform(
    template: dict[str, Any], function: str, handler: str
) -> None:
    """Each function is arm64 and Python 3.12, as build_zip builds by default, and its handler exists."""
    properties = function_properties(template, function)
    # build_zip.py without options, which is what `sam build` runs, targets this platform.
    assert properties["Architectures"] == [build_zip.DEFAULT_ARCH] == ["arm64"]
    assert properties["Runtime"] == f"python{build_zip.DEFAULT_PYTHON}" == "python3.12"
    assert properties["Handler"] == handler
    module, _, name = handler.rpartition(".")
    assert f"def {name}(" in (ROOT / (module.replace(".", "/") + ".py")).read_text()
    limit = FIREHOSE_MAX_INVOCATION_SECONDS if function == TRANSFORM_FUNCTION else LAMBDA_MAX_TIMEOUT_SECONDS
    assert properties["Timeout"] < limit


@pytest.mark.parametrize("function", FUNCTIONS)
def test_sam_builds_each_function_with_the_makefile_in_the_repository_root(
    template: dict[str, Any], function: str
) -> None:
    """BuildMethod makefile points at the root Makefile, run in the root, whose build-<Function> runs build_zip --tree."""
    metadata = template["Resources"][function]["Metadata"]
    assert metadata["BuildMethod"] == "makefile"
    assert (TEMPLATE.parent / metadata["ContextPath"]).resolve() == ROOT
    assert (TEMPLATE.parent / metadata["WorkingDirectory"]).resolve() == ROOT
    assert (TEMPLATE.parent / function_properties(template, function)["CodeUri"]).resolve() == TEMPLATE.parent
    recipe = re.search(rf"^[^\n]*\bbuild-{function}\b[^\n]*:\n\t(.+)$", MAKEFILE.read_text(), re.MULTILINE)
    assert recipe, f"the Makefile has no build-{function} target"
    assert recipe.group(1).strip() == '$(PYTHON) deploy/build_zip.py --tree "$(ARTIFACTS_DIR)"'


def test_firehose_invokes_the_transform_alias(template: dict[str, Any]) -> None:
    """The stream's processor calls the transform function through its alias, so a rollback is moving the alias."""
    assert processor_parameters(template)["LambdaArn"] == {"Ref": "LogshipFunction.Alias"}
    assert function_properties(template)["AutoPublishAlias"] == "live"


def test_log_groups_are_subscribed_by_one_custom_resource(template: dict[str, Any]) -> None:
    """One custom resource holds the LogGroupNames list and sends every group into the shared stream; no ForEach."""
    assert "Transform" in template and template["Transform"] == "AWS::Serverless-2016-10-31"
    assert not [k for k in template["Resources"] if k.startswith("Fn::ForEach")]
    (name,) = [k for k, v in template["Resources"].items() if v["Type"] == "Custom::LogSubscriptions"]
    properties = template["Resources"][name]["Properties"]
    assert properties["ServiceToken"] == {"Fn::GetAtt": [SUBSCRIPTIONS_FUNCTION, "Arn"]}
    assert properties["LogGroupNames"] == {"Ref": "LogGroupNames"}
    assert properties["FilterPattern"] == {"Ref": "SubscriptionFilterPattern"}
    assert properties["DestinationArn"] == {"Fn::GetAtt": [LAMBDA_STREAM, "Arn"]}
    assert properties["RoleArn"] == {"Fn::GetAtt": ["CloudWatchLogsRole", "Arn"]}
    # A function that dies without answering fails the stack soon after its own timeout, not in an hour.
    timeout = function_properties(template, SUBSCRIPTIONS_FUNCTION)["Timeout"]
    assert timeout < int(properties["ServiceTimeout"]) <= timeout + 120
    assert timeout == subscription_filters.DEFAULT_TIME_BUDGET_SECONDS > subscription_filters.RESPONSE_MARGIN_SECONDS
    parameter = template["Parameters"]["LogGroupNames"]
    assert parameter["Type"] == "CommaDelimitedList" and parameter["Default"] == ""


def test_every_parameter_has_a_default_so_guided_deploy_can_accept_it(template: dict[str, Any]) -> None:
    """Every parameter has a default for `sam deploy --guided` to offer; only the key rule needs an answer."""
    missing = [name for name, parameter in template["Parameters"].items() if "Default" not in parameter]
    assert missing == []


def test_subscriptions_role_manages_filters_and_passes_only_the_cloudwatch_logs_role(template: dict[str, Any]) -> None:
    """The custom resource may put, delete and describe filters and pass the CloudWatch Logs role to logs, nothing else."""
    role = function_properties(template, SUBSCRIPTIONS_FUNCTION)["Role"]["Fn::GetAtt"][0]
    any_group = {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}
    assert sorted(allowed(template, role, "logs:"), key=str) == sorted(
        [
            ("logs:CreateLogStream", {"Fn::GetAtt": ["SubscriptionsLogGroup", "Arn"]}),
            ("logs:PutLogEvents", {"Fn::GetAtt": ["SubscriptionsLogGroup", "Arn"]}),
            ("logs:PutSubscriptionFilter", any_group),
            ("logs:DeleteSubscriptionFilter", any_group),
            ("logs:DescribeSubscriptionFilters", any_group),
        ],
        key=str,
    )
    assert allowed(template, role, "iam:") == [("iam:PassRole", {"Fn::GetAtt": ["CloudWatchLogsRole", "Arn"]})]
    (statement,) = [s for _, d in policy_documents(template["Resources"][role]) for s in statements(d)
                    if s["Action"] == "iam:PassRole"]
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "logs.amazonaws.com"}}
    for prefix in ("firehose:", "s3:", "ssm:", "secretsmanager:", "kms:", "lambda:"):
        assert allowed(template, role, prefix) == [], prefix


# --- Alarms -----------------------------------------------------------------------

#: (namespace, metric) -> the statistic each alarm reads, for everything that needs a person.
ALARMED = {
    ("AWS/Lambda", "Errors"): "Sum",
    ("AWS/Lambda", "Throttles"): "Sum",
    ("AWS/Lambda", "Duration"): "Maximum",
    ("logship", "RecordsProcessingFailed"): "Sum",
    ("logship", "EntriesDeadLettered"): "Sum",
    ("logship", "ReingestFailedRecords"): "Sum",
}
DURATION_SHARE_OF_TIMEOUT = 0.8


def alarms(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """The log path's alarms (not ops events' nor the run watch's, tested beside those).

    Ops events' alarms (Condition OpsEvents) are in tests/opsevents/test_ops_deploy.py, the run
    watch's (Condition RunWatch) in tests/cronwatch/test_cron_deploy.py.
    """
    found = {
        name: alarm
        for name, alarm in resources_of(template, "AWS::CloudWatch::Alarm").items()
        if alarm.get("Condition") not in ("OpsEvents", "RunWatch")
    }
    return {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"] for a in found.values()}


def test_alarms_cover_what_needs_a_person(template: dict[str, Any]) -> None:
    """One alarm each on invocation errors, throttles, duration, ProcessingFailed, dead letters and re-ingest failures."""
    found = alarms(template)
    assert set(found) == set(ALARMED)
    for key, statistic in ALARMED.items():
        properties = found[key]
        assert properties["Statistic"] == statistic, key
        assert properties["Period"] == 300 and properties["EvaluationPeriods"] == 1, key
        assert properties["ComparisonOperator"] == "GreaterThanThreshold", key
        assert properties["TreatMissingData"] == "notBreaching", key
        assert "Unit" not in properties, key  # a unit other than the data's hides the data
        assert properties["AlarmDescription"], key


def test_lambda_alarms_watch_the_transform_function(template: dict[str, Any]) -> None:
    """The AWS/Lambda alarms read the transform function; duration goes off past 80% of its timeout."""
    found = alarms(template)
    for key in [k for k in ALARMED if k[0] == "AWS/Lambda"]:
        assert found[key]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": TRANSFORM_FUNCTION}}], key
    timeout_ms = function_properties(template)["Timeout"] * 1000
    assert found[("AWS/Lambda", "Duration")]["Threshold"] == DURATION_SHARE_OF_TIMEOUT * timeout_ms
    assert found[("AWS/Lambda", "Errors")]["Threshold"] == 0
    assert found[("AWS/Lambda", "Throttles")]["Threshold"] == 0


def test_logship_alarms_read_the_embedded_metrics_of_this_stream(template: dict[str, Any]) -> None:
    """The logship alarms read namespace logship with dimension DeliveryStream = the stream's name, on any count above 0."""
    found = alarms(template)
    for key in [k for k in ALARMED if k[0] == "logship"]:
        assert found[key]["Dimensions"] == [{"Name": "DeliveryStream", "Value": {"Ref": "DeliveryStreamName"}}], key
        assert found[key]["Threshold"] == 0, key


def test_alarm_actions_go_to_the_optional_topic(template: dict[str, Any]) -> None:
    """With AlarmTopicArn set, every alarm notifies it on alarm and on recovery; empty means no actions."""
    assert template["Conditions"]["HasAlarmTopic"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}
    assert template["Parameters"]["AlarmTopicArn"]["Default"] == ""
    expected = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    for key, properties in alarms(template).items():
        assert properties["AlarmActions"] == expected, key
        assert properties["OKActions"] == expected, key


def test_deploy_doc_explains_every_metric_and_parameter(template: dict[str, Any]) -> None:
    """docs/deploy.md has a table row per logship metric and per template parameter."""
    text = DEPLOY_DOC.read_text()
    rows = set(re.findall(r"^\| `([A-Za-z0-9]+)` \|", text, flags=re.MULTILINE))
    metrics = {metric for namespace, metric in ALARMED if namespace == "logship"}
    assert metrics <= rows, sorted(metrics - rows)
    assert set(template["Parameters"]) <= rows, sorted(set(template["Parameters"]) - rows)


# --- The FireLens stream --------------------------------------------------------


def test_firelens_stream_is_optional_and_has_no_lambda(template: dict[str, Any]) -> None:
    """The FireLens stream, its role, log group and sidecar policy exist only under CreateFireLensStream, Direct PUT, no Lambda."""
    streams = resources_of(template, "AWS::KinesisFirehose::DeliveryStream")
    assert set(streams) == {LAMBDA_STREAM, FIRELENS_STREAM}
    condition = streams[FIRELENS_STREAM]["Condition"]
    assert template["Conditions"][condition] == {"Fn::Equals": [{"Ref": "CreateFireLensStream"}, "true"]}
    assert template["Parameters"]["CreateFireLensStream"]["AllowedValues"] == ["true", "false"]
    for name in ("FireLensFirehoseRole", "FireLensLogGroup", "FireLensLogStream", "FireLensSidecarPolicy"):
        assert template["Resources"][name]["Condition"] == condition, name
    for name, output in template["Outputs"].items():
        if name.startswith("FireLens"):
            assert output["Condition"] == condition, name
    properties = streams[FIRELENS_STREAM]["Properties"]
    assert properties["DeliveryStreamType"] == "DirectPut"
    assert properties["DeliveryStreamName"] == {"Fn::Sub": "${DeliveryStreamName}-firelens"}
    assert set(firelens_processors(template)) == {"MetadataExtraction"}
    destination = stream_destination(template, FIRELENS_STREAM)
    assert destination["BucketARN"] == stream_destination(template)["BucketARN"]
    assert destination["RoleARN"] == {"Fn::GetAtt": ["FireLensFirehoseRole", "Arn"]}


def test_firelens_stream_partitions_by_system_and_service_apart_from_the_lambda_stream(
    template: dict[str, Any],
) -> None:
    """Objects go to firelens/<system>/<service>/yyyy/MM/dd/ by keys from the query, gzipped, with a 64 MB buffer."""
    destination = stream_destination(template, FIRELENS_STREAM)
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    prefix = destination["Prefix"]
    assert prefix == (
        "firelens/!{partitionKeyFromQuery:system}/!{partitionKeyFromQuery:service}/!{timestamp:yyyy/MM/dd}/"
    )
    # A fixed first segment keeps these objects apart from the Lambda stream's <system>/ prefixes.
    assert not prefix.split("/")[0].startswith("!{")
    error_prefix = destination["ErrorOutputPrefix"]
    assert "!{firehose:error-output-type}" in error_prefix
    assert error_prefix.startswith("errors/")  # the expire-errors lifecycle rule
    assert destination["BufferingHints"]["SizeInMBs"] >= 64
    assert destination["CompressionFormat"] == "GZIP"


def test_firelens_query_extracts_exactly_the_fields_the_fluent_bit_config_sets(template: dict[str, Any]) -> None:
    """The jq query reads the fields logship.conf sets from env, and its keys are exactly the prefix's keys."""
    metadata = firelens_processors(template)["MetadataExtraction"]
    assert metadata["JsonParsingEngine"] == "JQ-1.6"
    query = jq_object_fields(metadata["MetadataExtractionQuery"])
    config_fields = fields_set_from_env(parse_classic(FLUENTBIT_CONFIG.read_text()))
    assert set(query.values()) == set(config_fields), (query, config_fields)
    prefix_keys = re.findall(r"!\{partitionKeyFromQuery:(\w+)\}", stream_destination(template, FIRELENS_STREAM)["Prefix"])
    assert sorted(prefix_keys) == sorted(query)


def test_firelens_stream_adds_no_second_newline(template: dict[str, Any]) -> None:
    """fluent-bit's kinesis_firehose output ends each record with a newline, so no AppendDelimiterToRecord is configured."""
    assert "AppendDelimiterToRecord" not in firelens_processors(template)
    config = parse_classic(FLUENTBIT_CONFIG.read_text())
    (firehose,) = [s for s in config.of_kind("OUTPUT") if s.name == "kinesis_firehose"]
    # log_key would send bare text and compression gzipped records: neither is JSON for the jq query.
    assert firehose.get("log_key") is None and firehose.get("compression") is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{system: .system, service: .service}", {"system": "system", "service": "service"}),
        ("{ a:.b }", {"a": "b"}),
    ],
)
def test_jq_helper_reads_plain_objects(query: str, expected: dict[str, str]) -> None:
    """The jq reading used above understands {key: .field, ...}."""
    assert jq_object_fields(query) == expected


@pytest.mark.parametrize("query", [".system", "{system: .meta.system}", "{system: .system | ascii_downcase}"])
def test_jq_helper_refuses_other_queries(query: str) -> None:
    """A query the helper cannot read fails loudly instead of passing the comparison by accident."""
    with pytest.raises(AssertionError):
        jq_object_fields(query)


def test_firelens_role_writes_only_its_own_prefixes(template: dict[str, Any]) -> None:
    """The FireLens stream's role puts objects under firelens/ and errors/firelens/ only, and reads no Lambda or key."""
    objects = [target for action, target in allowed(template, "FireLensFirehoseRole", "s3:")
               if action == "s3:PutObject"]
    assert objects == [
        {"Fn::Sub": "${LogBucket.Arn}/firelens/*"},
        {"Fn::Sub": "${LogBucket.Arn}/errors/firelens/*"},
    ]
    for prefix in ("lambda:", "ssm:", "secretsmanager:", "kms:", "firehose:"):
        assert allowed(template, "FireLensFirehoseRole", prefix) == [], prefix
    assert allowed(template, "FireLensFirehoseRole", "logs:") == [
        ("logs:PutLogEvents", {"Fn::GetAtt": ["FireLensLogGroup", "Arn"]}),
    ]


def test_sidecar_policy_allows_put_record_batch_on_the_firelens_stream_only(template: dict[str, Any]) -> None:
    """The managed policy for sidecar task roles grants firehose:PutRecordBatch on that one stream and nothing else."""
    assert allowed(template, "FireLensSidecarPolicy", "") == [
        ("firehose:PutRecordBatch", {"Fn::GetAtt": [FIRELENS_STREAM, "Arn"]}),
    ]
    assert template["Outputs"]["FireLensSidecarPolicyArn"]["Value"] == {"Ref": "FireLensSidecarPolicy"}


def test_deploy_doc_lists_every_setting() -> None:
    """docs/deploy.md has a table row for every environment variable logship reads."""
    text = DEPLOY_DOC.read_text()
    rows = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", text, flags=re.MULTILINE))
    assert rows == set(ALL_ENV_NAMES), (sorted(set(ALL_ENV_NAMES) - rows), sorted(rows - set(ALL_ENV_NAMES)))


# --- The build command ---------------------------------------------------------


def test_platform_tags_follow_the_runtime_glibc() -> None:
    """Wheels are chosen for Amazon Linux 2023 (glibc 2.34) from Python 3.12, Amazon Linux 2 before."""
    arm = build_zip.platform_tags("arm64", "3.12")
    assert arm[0] == "manylinux_2_34_aarch64" and arm[-1] == "manylinux2014_aarch64"
    old = build_zip.platform_tags("x86_64", "3.11")
    assert old[0] == "manylinux_2_26_x86_64" and "manylinux_2_17_x86_64" in old


def test_runtime_provided_packages_and_what_only_they_need_stay_out() -> None:
    """boto3 and friends are not bundled, nor a package only they depend on; shared ones are kept."""
    resolved = [
        ("boto3", "1.0", {"requires_dist": ["botocore>=1", "s3transfer"]}),
        ("botocore", "1.0", {"requires_dist": ["urllib3", "python-dateutil"]}),
        ("s3transfer", "1.0", {"requires_dist": []}),
        ("urllib3", "2.0", {"requires_dist": ["brotli; extra == 'brotli'"]}),
        ("python-dateutil", "4.0", {"requires_dist": ["tzdata"]}),
        ("tzdata", "2026.1", {"requires_dist": None}),
        ("orjson", "3.0", {}),
        ("certifi", "1.0", {}),
        ("client", "1.0", {"requires_dist": ["certifi", "urllib3", "winlib; sys_platform == 'win32'"]}),
        ("winlib", "1.0", {}),
    ]
    kept = build_zip.bundled(
        ["orjson>=3", "boto3>=1.28", "client"],
        resolved,
        build_zip.RUNTIME_PROVIDED,
        build_zip.marker_environment("arm64", "3.12"),
    )
    assert kept == [("certifi", "1.0"), ("client", "1.0"), ("orjson", "3.0")]


def test_tzdata_is_bundled_for_zoneinfo_though_the_runtime_s_dateutil_needs_it_too() -> None:
    """tzdata, a direct runtime dependency (cron watch's time zones), is bundled even if python-dateutil wants it."""
    requirements = build_zip.runtime_dependencies(ROOT / "pyproject.toml")
    assert any(build_zip.canonical_name(r.split(">")[0].split("=")[0]) == "tzdata" for r in requirements)
    resolved = [
        ("botocore", "1.0", {"requires_dist": ["python-dateutil"]}),
        ("python-dateutil", "4.0", {"requires_dist": ["tzdata"]}),
        ("tzdata", "2026.1", {"requires_dist": None}),
    ]
    kept = build_zip.bundled(
        ["botocore", "tzdata>=2024.1"], resolved, build_zip.RUNTIME_PROVIDED, build_zip.marker_environment("arm64", "3.12")
    )
    assert kept == [("tzdata", "2026.1")]


def test_zip_is_deterministic_and_leaves_out_tests_and_bytecode(tmp_path: Path) -> None:
    """Zipping the same tree twice gives the same bytes, without __pycache__, .pyc or tests."""
    tree = tmp_path / "tree"
    for relative in (
        "pkg/__init__.py",
        "pkg/mod.py",
        "pkg/__pycache__/mod.cpython-312.pyc",
        "pkg/tests/test_mod.py",
        "pkg/stale.pyc",
        "dep/data.bin",
    ):
        path = tree / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(relative)
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    build_zip.write_zip(tree, first)
    time.sleep(1.1)  # a different mtime must not change the archive
    (tree / "pkg" / "mod.py").touch()
    build_zip.write_zip(tree, second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == ["dep/data.bin", "pkg/__init__.py", "pkg/mod.py"]


@pytest.fixture(scope="session")
def lambda_runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return runtime_python(tmp_path_factory.getbasetemp() / "lambda-runtime")


def make_source_tree(root: Path, *, with_testing: bool) -> Path:
    for relative in ("logship/__init__.py", "logship/app.py", "logship/testingx.py", "handlers/firehose.py"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(relative)
    if with_testing:
        (root / "logship" / "testing" / "emulator").mkdir(parents=True)
        (root / "logship" / "testing" / "__init__.py").write_text("")
        (root / "logship" / "testing" / "emulator" / "__init__.py").write_text("")
    return root


@pytest.mark.parametrize("with_testing", [True, False])
def test_sources_leave_out_logship_testing_whether_or_not_it_exists(tmp_path: Path, with_testing: bool) -> None:
    """logship/testing/ (emulators, local AWS) never reaches the package; a sibling module with a similar name does."""
    root = make_source_tree(tmp_path / "src", with_testing=with_testing)
    build_zip.copy_sources(root, tmp_path / "stage")
    copied = sorted(p.relative_to(tmp_path / "stage").as_posix() for p in (tmp_path / "stage").rglob("*") if p.is_file())
    assert copied == ["handlers/firehose.py", "logship/__init__.py", "logship/app.py", "logship/testingx.py"]


def test_tree_holds_exactly_what_the_zip_holds(tmp_path: Path) -> None:
    """--tree writes the files --out zips, with the same bytes and modes, and refuses a folder that is not empty."""
    stage = tmp_path / "stage"
    for relative, mode in (("pkg/__init__.py", 0o644), ("pkg/tool", 0o755), ("pkg/__pycache__/x.pyc", 0o644)):
        path = stage / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(relative)
        path.chmod(mode)
    build_zip.write_zip(stage, tmp_path / "p.zip")
    copied = build_zip.write_tree(stage, tmp_path / "tree")
    with zipfile.ZipFile(tmp_path / "p.zip") as archive:
        zipped = {info.filename: (archive.read(info), info.external_attr >> 16 & 0o777) for info in archive.infolist()}
    tree = {
        p.relative_to(tmp_path / "tree").as_posix(): (p.read_bytes(), p.stat().st_mode & 0o777)
        for p in (tmp_path / "tree").rglob("*")
        if p.is_file()
    }
    assert tree == zipped
    assert copied == sum(len(data) for data, _ in tree.values())
    with pytest.raises(build_zip.BuildError, match="empty folder"):
        build_zip.write_tree(stage, tmp_path / "tree")


def test_build_command_refuses_a_tree_folder_that_is_not_empty(tmp_path: Path) -> None:
    """--tree into a folder with files in it ends with one error line and exit 1, before any download."""
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "old.txt").write_text("x")
    result = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--tree", str(tmp_path / "tree")],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: {tmp_path / 'tree'} must be an empty folder or not exist"]


def test_native_names_this_machine_and_interpreter() -> None:
    """--arch native and --python native resolve to the running machine's Lambda architecture and Python."""
    assert build_zip.native_python() == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert build_zip.native_arch() in {"arm64", "x86_64"}


@pytest.mark.slow
def test_build_command_makes_a_zip_that_imports_the_handler(tmp_path: Path, lambda_runtime: Path) -> None:
    """The build command's zip, unpacked beside only boto3 (the runtime's), imports handlers.firehose."""
    out = tmp_path / "logship-lambda.zip"
    # The host's platform and Python stand in for the Lambda's, so the zip can load here.
    build = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--arch", "native", "--python", "native", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    assert "bytes zipped" in build.stdout, build.stdout
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "task")
    tops = {name.split("/")[0] for name in names}
    assert {"logship", "handlers"} <= tops
    assert not tops & {"boto3", "botocore", "s3transfer", "tests"}, sorted(tops)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/tests/" in n]
    assert not [n for n in names if n.startswith("logship/testing/")]
    code = (
        "import handlers.firehose, handlers.events, logship, orjson\n"
        "import datadog_api_client.v1.api.events_api  # the ops events function sends with it\n"
        "assert callable(handlers.firehose.handler) and callable(handlers.events.handler)\n"
        "assert datadog_api_client.__file__.startswith(sys.path[0]), datadog_api_client.__file__\n"
        "assert logship.__file__.startswith(sys.path[0]), logship.__file__\n"
        "print('ok')\n"
    )
    output = run_in_task_root(lambda_runtime, tmp_path / "task", code, {"HOME": str(tmp_path)}, tmp_path)
    assert output.strip() == "ok"
