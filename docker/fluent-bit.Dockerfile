# logship FireLens sidecar: AWS for Fluent Bit with logship's config baked in.
# Build from the repository root:
#   docker build -f docker/fluent-bit.Dockerfile -t logship-fluent-bit .
#
# AWS for Fluent Bit 3.4.14 ships Fluent Bit 5.0.9; the option names in
# fluent-bit/*.conf are checked against that version's documentation.
FROM public.ecr.aws/aws-observability/aws-for-fluent-bit:3.4.14

# Outside /fluent-bit/etc/, where FireLens writes its generated fluent-bit.conf.
# The task definition names /fluent-bit/logship/logship.conf in
# firelensConfiguration.options."config-file-value".
COPY fluent-bit/logship.conf fluent-bit/parsers.conf /fluent-bit/logship/

# No USER: under FireLens the log router runs as root (uid 0) unless the task
# definition sets "user" where ECS supports a non-root FireLens container; see
# docs/firelens.md. The filesystem buffer (storage.path) is created at start.

# Fluent Bit's own health endpoint (HTTP_Server/Health_Check in logship.conf).
# "|| exit 1" maps curl's error codes to Docker's "unhealthy" status.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["/bin/sh", "-c", "curl -fsS http://127.0.0.1:2020/api/v1/health || exit 1"]
