# The processes of the venue on ECS Fargate: one image (ECR), one task definition and one ECS
# service per entry of catalog.tf, Cloud Map names for service-to-service calls, and the internal
# ALB that API Gateway (VPC link) and CloudFront (VPC origin, for /ws) forward to.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  image      = "${aws_ecr_repository.this.repository_url}:${var.image_tag}"
  ports      = [for service in local.services : service.port]
  api        = { for name, service in local.services : name => service if service.kind == "api" }
  workers    = { for name, service in local.services : name => service if service.kind == "worker" }

  # Services that receive traffic from the ALB, and the ALB's rules: longest prefix first, like
  # services/gateway and topology.route_for().
  alb_routes = merge(
    { for prefix, route in local.routes : prefix => route.service },
    { for prefix in local.gateway_prefixes : prefix => "gateway" },
  )
  routed_services = toset(values(local.alb_routes))
  alb_rule_order = [
    for key in sort([for prefix, _ in local.alb_routes : format("%04d%s", 1000 - length(prefix), prefix)]) :
    substr(key, 4, -1)
  ]

  healthcheck = [
    "CMD", "python", "-c",
    "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['TRADESTACK_PORT'] + '/healthz', timeout=3)",
  ]
}

# --- image -----------------------------------------------------------------------------------

resource "aws_ecr_repository" "this" {
  name                 = var.prefix
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_delete_images

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 30 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 30 }
      action       = { type = "expire" }
    }]
  })
}

# --- secrets ---------------------------------------------------------------------------------

# The AES-256 key that encrypts API-key secrets and signing keys (TRADESTACK_AUTH_ENCRYPTION_KEY).
# Terraform creates the secret, the operator puts its value (docs/deploy.md), so it never sits in
# Terraform state.
resource "aws_secretsmanager_secret" "encryption_key" {
  #checkov:skip=CKV2_AWS_57:Rotating this key means re-encrypting stored API-key secrets and signing keys; it is rotated by an operator procedure, not a Lambda.
  name                    = "${var.prefix}/auth-encryption-key"
  description             = "TRADESTACK_AUTH_ENCRYPTION_KEY: base64 of 32 random bytes"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
}

# --- cluster ---------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "exec" {
  name              = "/${var.prefix}/ecs-exec"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_ecs_cluster" "this" {
  name = var.prefix

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  configuration {
    execute_command_configuration {
      kms_key_id = var.kms_key_arn
      logging    = "OVERRIDE"

      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.exec.name
      }
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = local.namespace
  description = "Service-to-service names of ${var.prefix}"
  vpc         = var.vpc_id
}

resource "aws_service_discovery_service" "this" {
  for_each = local.services

  name = each.key

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }
}

# --- roles -----------------------------------------------------------------------------------

data "aws_iam_policy_document" "tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# The execution role: what ECS itself needs to start a task (pull, logs, secrets).
resource "aws_iam_role" "execution" {
  name               = "${var.prefix}-task-execution"
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "AuthenticateToEcr"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [aws_ecr_repository.this.arn]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for group in aws_cloudwatch_log_group.service : "${group.arn}:*"]
  }

  statement {
    sid       = "ReadSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = values(local.common_secrets)
  }

  statement {
    sid       = "DecryptImageAndSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "start-tasks"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# One task role per service, built from its catalog entry only.
resource "aws_iam_role" "task" {
  for_each = local.services

  name               = "${var.prefix}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
}

data "aws_iam_policy_document" "task" {
  for_each = local.services

  # Every task may open an ECS Exec session channel (used only when exec is enabled).
  statement {
    sid = "ExecChannel"
    actions = [
      "ssmmessages:CreateControlChannel",
      "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel",
      "ssmmessages:OpenDataChannel",
    ]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = length(each.value.streams_read) > 0 ? [each.value.streams_read] : []
    content {
      sid = "ReadStreams"
      actions = [
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
      ]
      resources = [for stream in statement.value : var.stream_arns[stream]]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.streams_write) > 0 ? [each.value.streams_write] : []
    content {
      sid       = "WriteStreams"
      actions   = ["kinesis:DescribeStreamSummary", "kinesis:ListShards", "kinesis:PutRecord", "kinesis:PutRecords"]
      resources = [for stream in statement.value : var.stream_arns[stream]]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.tables_read) > 0 ? [each.value.tables_read] : []
    content {
      sid = "ReadTables"
      actions = [
        "dynamodb:BatchGetItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
      ]
      resources = flatten([for table in statement.value : [var.table_arns[table], "${var.table_arns[table]}/index/*"]])
    }
  }

  dynamic "statement" {
    for_each = length(each.value.tables_write) > 0 ? [each.value.tables_write] : []
    content {
      sid = "ReadWriteTables"
      actions = [
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DeleteItem",
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:UpdateItem",
      ]
      resources = flatten([for table in statement.value : [var.table_arns[table], "${var.table_arns[table]}/index/*"]])
    }
  }

  dynamic "statement" {
    for_each = length(each.value.buckets) > 0 ? [each.value.buckets] : []
    content {
      sid       = "ListBuckets"
      actions   = ["s3:ListBucket"]
      resources = [for bucket in statement.value : var.bucket_arns[bucket]]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.buckets) > 0 ? [each.value.buckets] : []
    content {
      sid       = "ReadWriteObjects"
      actions   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
      resources = [for bucket in statement.value : "${var.bucket_arns[bucket]}/*"]
    }
  }

  dynamic "statement" {
    for_each = length(concat(each.value.streams_read, each.value.streams_write, each.value.tables_read, each.value.tables_write, each.value.buckets)) > 0 ? [1] : []
    content {
      sid       = "UseDataKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  for_each = local.services

  name   = "${each.key}-data-access"
  role   = aws_iam_role.task[each.key].id
  policy = data.aws_iam_policy_document.task[each.key].json
}

# --- network ---------------------------------------------------------------------------------

resource "aws_security_group" "alb" {
  name        = "${var.prefix}-alb"
  description = "Internal ALB: from the API Gateway VPC link and CloudFront VPC origins"
  vpc_id      = var.vpc_id
}

data "aws_ec2_managed_prefix_list" "cloudfront" {
  name = "com.amazonaws.global.cloudfront.origin-facing"
}

resource "aws_vpc_security_group_ingress_rule" "alb_from_vpc" {
  #checkov:skip=CKV_AWS_260:False positive: the source is the VPC's own CIDR, not 0.0.0.0/0.
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from inside the VPC (the API Gateway VPC link's interfaces)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = var.vpc_cidr_block
}

resource "aws_vpc_security_group_ingress_rule" "alb_from_cloudfront" {
  #checkov:skip=CKV_AWS_260:False positive: the source is CloudFront's origin-facing prefix list, not 0.0.0.0/0.
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from CloudFront VPC origins (/ws)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  prefix_list_id    = data.aws_ec2_managed_prefix_list.cloudfront.id
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the service ports of the tasks"
  ip_protocol                  = "tcp"
  from_port                    = min(local.ports...)
  to_port                      = max(local.ports...)
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_security_group" "tasks" {
  name        = "${var.prefix}-tasks"
  description = "Tasks: from the ALB and each other on service ports; out to AWS APIs over HTTPS"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Service ports from the internal ALB"
  ip_protocol                  = "tcp"
  from_port                    = min(local.ports...)
  to_port                      = max(local.ports...)
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_tasks" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Service ports from other tasks (JWKS, OpenAPI merge)"
  ip_protocol                  = "tcp"
  from_port                    = min(local.ports...)
  to_port                      = max(local.ports...)
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_tasks" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Service ports of other tasks"
  ip_protocol                  = "tcp"
  from_port                    = min(local.ports...)
  to_port                      = max(local.ports...)
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to AWS APIs (VPC endpoints, or NAT for the rest)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- internal load balancer ------------------------------------------------------------------

resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_20:Internal ALB without a public listener; viewers use HTTPS at CloudFront and API Gateway.
  #checkov:skip=CKV2_AWS_28:Internal ALB: nothing reaches it from the internet; the WAF, if any, sits on CloudFront.
  name                       = "${var.prefix}-internal"
  internal                   = true
  load_balancer_type         = "application"
  subnets                    = var.private_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  idle_timeout               = 120

  access_logs {
    bucket  = var.logs_bucket
    prefix  = "alb"
    enabled = true
  }
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:ALB to task traffic stays inside private subnets; TLS ends at CloudFront and API Gateway.
  for_each = local.routed_services

  name                 = "${substr(var.prefix, 0, 20)}-${each.key}"
  port                 = local.services[each.key].port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = "/readyz"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:Internal listener in private subnets, reached only through the VPC link and CloudFront VPC origins; TLS ends at CloudFront and API Gateway.
  #checkov:skip=CKV_AWS_103:As above: no TLS on the internal hop.
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      status_code  = "404"
      message_body = "{\"error\": {\"code\": \"not_found\", \"message\": \"No route for this path.\"}}"
    }
  }
}

resource "aws_lb_listener_rule" "route" {
  for_each = local.alb_routes

  listener_arn = aws_lb_listener.http.arn
  priority     = 100 + index(local.alb_rule_order, each.key)

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[each.value].arn
  }

  condition {
    path_pattern {
      values = [each.key, "${each.key}/*"]
    }
  }
}

# --- tasks and services ----------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "service" {
  for_each = local.services

  name              = "/${var.prefix}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_ecs_task_definition" "this" {
  for_each = local.services

  family                   = "${var.prefix}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = lookup(var.task_cpu, each.key, var.default_task_cpu)
  memory                   = lookup(var.task_memory, each.key, var.default_task_memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task[each.key].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # The root filesystem is read-only; /tmp is a task-local scratch volume.
  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([{
    name                   = each.key
    image                  = local.image
    command                = ["serve", each.key]
    essential              = true
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    stopTimeout            = 30
    portMappings           = [{ containerPort = each.value.port, protocol = "tcp", name = each.key }]
    environment            = [for name, value in local.environment[each.key] : { name = name, value = value }]
    secrets                = [for name, arn in local.common_secrets : { name = name, valueFrom = arn }]
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    linuxParameters        = { initProcessEnabled = true }
    healthCheck = {
      command     = local.healthcheck
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service[each.key].name
        awslogs-region        = local.region
        awslogs-stream-prefix = each.key
      }
    }
  }])
}

# Stateless APIs: rolling deployments, autoscaling owns the task count.
resource "aws_ecs_service" "api" {
  for_each = local.api

  name                               = each.key
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.this[each.key].arn
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  desired_count                      = var.api_min_tasks
  enable_execute_command             = var.enable_execute_command
  propagate_tags                     = "SERVICE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.this[each.key].arn
  }

  dynamic "load_balancer" {
    for_each = contains(local.routed_services, each.key) ? [each.key] : []
    content {
      target_group_arn = aws_lb_target_group.this[load_balancer.value].arn
      container_name   = load_balancer.value
      container_port   = each.value.port
    }
  }

  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener_rule.route, aws_iam_role_policy.execution]
}

# Shard-owning workers: exactly one task, and a deployment stops the old task before it starts
# the new one, so a group never runs two (the lease's fencing still guarantees single writers).
resource "aws_ecs_service" "worker" {
  for_each = local.workers

  name                               = each.key
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.this[each.key].arn
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  desired_count                      = 1
  enable_execute_command             = var.enable_execute_command
  propagate_tags                     = "SERVICE"
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.this[each.key].arn
  }

  depends_on = [aws_iam_role_policy.execution]
}

resource "aws_appautoscaling_target" "api" {
  for_each = local.api

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.api[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.api_min_tasks
  max_capacity       = var.api_max_tasks
}

resource "aws_appautoscaling_policy" "api_cpu" {
  for_each = local.api

  name               = "${var.prefix}-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.api[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.api[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.api_cpu_target_percent
    scale_in_cooldown  = 120
    scale_out_cooldown = 30

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
