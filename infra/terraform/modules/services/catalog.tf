# What runs, what each process may touch, and which URL prefixes reach which service.
#
# `services` mirrors services/common/topology.py SERVICES (name, port) and `routes` mirrors its
# ROUTES and GATEWAY_OWNED_PREFIXES; tests/infra fail when they disagree, and when a service here
# and its docker-compose counterpart are given different environment variable names.
#
# kind "api":    stateless; behind the internal ALB when it owns routes; autoscaled.
# kind "worker": owns Kinesis shards through leases; exactly one task, and deployments stop the
#                old task before starting the new one (the lease still guarantees one writer).
#
# Access lists name resources of services/common/resources.py (logical names). Each task role
# is built from its entry and nothing else: a service may touch only what is listed here.

locals {
  services = {
    gateway = {
      port          = 8000
      kind          = "api"
      streams_read  = []
      streams_write = []
      tables_read   = []
      tables_write  = []
      buckets       = []
      environment   = {}
    }
    auth = {
      port          = 8001
      kind          = "api"
      streams_read  = []
      streams_write = []
      tables_read   = []
      tables_write  = ["users", "api_keys"]
      buckets       = []
      environment = {
        # CloudFront, API Gateway and the ALB each append to X-Forwarded-For.
        TRADESTACK_AUTH_TRUSTED_PROXY_HOPS = "3"
      }
    }
    orders = {
      port          = 8002
      kind          = "api"
      streams_read  = []
      streams_write = ["orders", "matching"]
      tables_read   = ["trades", "balances", "ledger", "api_keys"]
      tables_write  = ["orders", "markets"]
      buckets       = []
      environment   = {}
    }
    marketdata = {
      port          = 8003
      kind          = "api"
      streams_read  = ["executions", "accounts"]
      streams_write = []
      tables_read   = ["markets", "api_keys"]
      tables_write  = []
      buckets       = ["snapshots"]
      environment   = {}
    }
    matching = {
      port          = 8004
      kind          = "worker"
      streams_read  = ["matching"]
      streams_write = ["executions"]
      tables_read   = []
      tables_write  = ["leases"]
      buckets       = ["snapshots"]
      environment   = {}
    }
    accounts = {
      port          = 8005
      kind          = "worker"
      streams_read  = ["orders"]
      streams_write = ["matching", "accounts"]
      tables_read   = []
      tables_write  = ["leases"]
      buckets       = ["snapshots"]
      environment   = {}
    }
    relay = {
      port          = 8006
      kind          = "worker"
      streams_read  = ["executions"]
      streams_write = ["orders"]
      tables_read   = []
      tables_write  = ["leases"]
      buckets       = ["snapshots"]
      environment   = {}
    }
    projector = {
      port          = 8007
      kind          = "worker"
      streams_read  = ["executions", "accounts"]
      streams_write = []
      tables_read   = []
      tables_write  = ["orders", "trades", "balances", "ledger", "leases"]
      buckets       = []
      environment   = {}
    }
  }

  routes = {
    "/api/auth"     = { service = "auth", websocket = false }
    "/api/orders"   = { service = "orders", websocket = false }
    "/api/trades"   = { service = "orders", websocket = false }
    "/api/balances" = { service = "orders", websocket = false }
    "/api/admin"    = { service = "orders", websocket = false }
    "/api/markets"  = { service = "marketdata", websocket = false }
    "/api/tickers"  = { service = "marketdata", websocket = false }
    "/ws"           = { service = "marketdata", websocket = true }
  }

  # Served by the Python gateway (the merged OpenAPI document and Swagger UI). The third
  # gateway-owned prefix, "/" (the web UI), is CloudFront + the web bucket in AWS.
  gateway_prefixes = ["/api/openapi.json", "/api/docs"]

  # Service discovery: every service is <name>.<namespace> inside the VPC (Cloud Map).
  namespace = "${var.prefix}.internal"

  # What `tradestack up` (services/stack.py) gives every process, with AWS addresses.
  common_environment = {
    AWS_REGION                         = local.region
    TRADESTACK_ENVIRONMENT             = var.environment
    TRADESTACK_RESOURCE_PREFIX         = var.prefix
    TRADESTACK_DEMO_MODE               = var.demo_mode ? "true" : "false"
    TRADESTACK_LOG_FORMAT              = "json"
    TRADESTACK_LOG_LEVEL               = var.log_level
    TRADESTACK_GATEWAY_URL             = "http://gateway.${local.namespace}:8000"
    TRADESTACK_AUTH_URL                = "http://auth.${local.namespace}:8001"
    TRADESTACK_ORDERS_URL              = "http://orders.${local.namespace}:8002"
    TRADESTACK_MARKETDATA_URL          = "http://marketdata.${local.namespace}:8003"
    TRADESTACK_MATCHING_URL            = "http://matching.${local.namespace}:8004"
    TRADESTACK_ACCOUNTS_URL            = "http://accounts.${local.namespace}:8005"
    TRADESTACK_RELAY_URL               = "http://relay.${local.namespace}:8006"
    TRADESTACK_PROJECTOR_URL           = "http://projector.${local.namespace}:8007"
    TRADESTACK_AUTH_JWKS_URL           = "http://auth.${local.namespace}:8001/api/auth/.well-known/jwks.json"
    TRADESTACK_AUTH_COGNITO_ISSUER     = var.cognito_issuer
    TRADESTACK_AUTH_COGNITO_CLIENT_IDS = join(",", var.cognito_client_ids)
  }

  # Values that must not sit in a task definition: Secrets Manager ARNs, injected by ECS.
  common_secrets = {
    TRADESTACK_AUTH_ENCRYPTION_KEY = aws_secretsmanager_secret.encryption_key.arn
  }

  environment = {
    for name, service in local.services : name => merge(
      local.common_environment,
      {
        TRADESTACK_SERVICE_NAME = name
        TRADESTACK_PORT         = tostring(service.port)
      },
      service.environment,
    )
  }
}
