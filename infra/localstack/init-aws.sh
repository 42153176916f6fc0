#!/bin/sh
# LocalStack init hook of docker-compose.yml, run once per `docker compose up` by the aws-init
# container (the tradestack image): create every stream, table and bucket with the same code as
# `tradestack up` (services/common/resources.py), then seed the demo markets like it does.
set -eu

prefix="${TRADESTACK_RESOURCE_PREFIX:-tradestack}"

attempt=1
until tradestack init-aws --prefix "$prefix"; do
  if [ "$attempt" -ge 5 ]; then
    echo "init-aws: LocalStack at $AWS_ENDPOINT_URL still refuses after $attempt attempts" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 3
done

if [ "${TRADESTACK_DEMO_MODE:-false}" = "true" ]; then
  tradestack seed-demo --prefix "$prefix"
  echo "init-aws: demo markets seeded"
fi
