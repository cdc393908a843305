# logship's Firehose transformation Lambda as a container image, an
# alternative to the zip package. Build from the repository root:
#   docker build -f docker/lambda.Dockerfile -t logship-lambda .
# For a function on arm64 (as the SAM template's), add --platform linux/arm64.
#
# The base is pinned to a dated tag of the AWS Lambda Python 3.12 image; bump
# it deliberately to pick up runtime and OS patches.
ARG BASE_IMAGE=public.ecr.aws/lambda/python:3.12.2026.10.03.13

FROM ${BASE_IMAGE} AS build
WORKDIR /build
COPY pyproject.toml ./
COPY deploy/build_zip.py deploy/
COPY logship/ logship/
COPY handlers/ handlers/
# The same package as the zip (deploy/build_zip.py): logship, handlers/ and the
# runtime dependencies as wheels for this image's Python and architecture,
# without what the Lambda runtime already ships (boto3, botocore, ...) and
# without logship/testing/. Written unzipped into /package.
RUN python3 deploy/build_zip.py --arch native --python native --tree /package

FROM ${BASE_IMAGE}
COPY --from=build /package/ ${LAMBDA_TASK_ROOT}/
CMD ["handlers.firehose.handler"]
