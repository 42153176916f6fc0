# The public API: an API Gateway HTTP API whose routes are the gateway's route table
# (topology.ROUTES, handed in by the services module), each forwarded unchanged through a VPC
# link to the internal ALB. HTTP APIs carry no WebSockets, so `/ws` is not here: CloudFront sends
# it to the ALB directly (edge module). Optionally a Cognito user pool and a JWT authorizer.

locals {
  http_routes = { for prefix, route in var.routes : prefix => route if !route.websocket }

  # Each prefix owns itself and everything under it, like topology.route_for().
  route_keys = merge(
    { for prefix, route in local.http_routes : "ANY ${prefix}" => route.service },
    { for prefix, route in local.http_routes : "ANY ${prefix}/{proxy+}" => route.service },
    { for prefix in var.gateway_prefixes : "ANY ${prefix}" => "gateway" },
    { for prefix in var.gateway_prefixes : "ANY ${prefix}/{proxy+}" => "gateway" },
  )

  cognito = var.jwt_authorizer == "cognito"
  # Routes the JWT authorizer guards when enabled. Sign-up, log-in, market data and the API
  # documents stay public; API-key clients (signed requests) cannot use these routes then.
  protected_services = ["orders"]
}

resource "aws_security_group" "vpc_link" {
  name        = "${var.prefix}-vpc-link"
  description = "API Gateway VPC link: only towards the internal ALB"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "vpc_link_to_alb" {
  security_group_id            = aws_security_group.vpc_link.id
  description                  = "HTTP to the internal ALB"
  ip_protocol                  = "tcp"
  from_port                    = 80
  to_port                      = 80
  referenced_security_group_id = var.alb_security_group_id
}

resource "aws_apigatewayv2_vpc_link" "this" {
  name               = var.prefix
  subnet_ids         = var.private_subnet_ids
  security_group_ids = [aws_security_group.vpc_link.id]
}

resource "aws_apigatewayv2_api" "this" {
  name          = var.prefix
  protocol_type = "HTTP"
  description   = "Tradestack public API (routes of services/common/topology.py)"
}

resource "aws_apigatewayv2_integration" "alb" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "HTTP_PROXY"
  integration_method     = "ANY"
  integration_uri        = var.alb_listener_arn
  connection_type        = "VPC_LINK"
  connection_id          = aws_apigatewayv2_vpc_link.this.id
  payload_format_version = "1.0"
  timeout_milliseconds   = 29000

  # The services see the path exactly as the client sent it.
  request_parameters = {
    "overwrite:path" = "$request.path"
  }
}

resource "aws_apigatewayv2_route" "this" {
  #checkov:skip=CKV_AWS_309:Public routes (sign-up, log-in, market data, API documents) are public by design; private routes verify the JWT or the API-key signature in the service, exactly as locally. var.jwt_authorizer adds a Cognito JWT authorizer in front.
  for_each = local.route_keys

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.alb.id}"
  authorization_type = local.cognito && contains(local.protected_services, each.value) ? "JWT" : "NONE"
  authorizer_id      = local.cognito && contains(local.protected_services, each.value) ? aws_apigatewayv2_authorizer.cognito[0].id : null
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/${var.prefix}/api-access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.throttle_rate_limit
    throttling_burst_limit = var.throttle_burst_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      ip             = "$context.identity.sourceIp"
      requestTime    = "$context.requestTime"
      httpMethod     = "$context.httpMethod"
      path           = "$context.path"
      routeKey       = "$context.routeKey"
      status         = "$context.status"
      responseLength = "$context.responseLength"
      latency        = "$context.responseLatency"
      integration    = "$context.integrationStatus"
      error          = "$context.error.message"
    })
  }
}

# --- optional: Cognito user pool and JWT authorizer -----------------------------------------

resource "aws_cognito_user_pool" "this" {
  count = local.cognito ? 1 : 0

  name                     = var.prefix
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  mfa_configuration        = "OPTIONAL"
  deletion_protection      = var.deletion_protection ? "ACTIVE" : "INACTIVE"

  password_policy {
    minimum_length    = 10
    require_lowercase = true
    require_uppercase = true
    require_numbers   = true
    require_symbols   = false
  }

  software_token_mfa_configuration {
    enabled = true
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }
}

resource "aws_cognito_user_pool_client" "web" {
  count = local.cognito ? 1 : 0

  name                          = "${var.prefix}-web"
  user_pool_id                  = aws_cognito_user_pool.this[0].id
  generate_secret               = false
  prevent_user_existence_errors = "ENABLED"
  explicit_auth_flows           = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  access_token_validity         = 15
  id_token_validity             = 15
  refresh_token_validity        = 14

  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }
}

resource "aws_cognito_user_group" "admin" {
  count = local.cognito ? 1 : 0

  name         = "admin"
  user_pool_id = aws_cognito_user_pool.this[0].id
  description  = "Venue operators (market admin, deposits, withdrawals)"
}

resource "aws_apigatewayv2_authorizer" "cognito" {
  count = local.cognito ? 1 : 0

  api_id           = aws_apigatewayv2_api.this.id
  authorizer_type  = "JWT"
  name             = "cognito"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = "https://${aws_cognito_user_pool.this[0].endpoint}"
    audience = [aws_cognito_user_pool_client.web[0].id]
  }
}
