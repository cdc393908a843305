# logship's Firehose transformation Lambda as a container image, an
# alternative to the zip package. Build from the repository root:
#   docker build -f docker/lambda.Dockerfile -t logship-lambda .
#
# The base is pinned to a dated tag of the AWS Lambda Python 3.12 image; bump
# it deliberately to pick up runtime and OS patches.
ARG BASE_IMAGE=public.ecr.aws/lambda/python:3.12.2026.10.03.13

FROM ${BASE_IMAGE} AS build
WORKDIR /build
COPY pyproject.toml README.md ./
COPY logship/ logship/
# The library and its runtime dependencies, installed flat into /install so
# the final stage copies them into the function's code directory.
RUN pip install --no-cache-dir --target /install .

FROM ${BASE_IMAGE}
COPY --from=build /install/ ${LAMBDA_TASK_ROOT}/
COPY handlers/ ${LAMBDA_TASK_ROOT}/handlers/
CMD ["handlers.firehose.handler"]
