# Alarms and one dashboard. What pages someone: a consumer falling behind its stream (iterator
# age), throttling anywhere on the order path (Kinesis, DynamoDB), 5xx at the API or the ALB,
# errors logged by a worker, and a worker group with no running task (the venue is halted).

data "aws_region" "current" {}

locals {
  region        = data.aws_region.current.name
  workers       = { for name, service in var.services : name => service if service.kind == "worker" }
  alarm_actions = [aws_sns_topic.alarms.arn]
  # The metric namespace of the log-derived metrics.
  namespace = "Tradestack/${var.prefix}"
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.prefix}-alarms"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# --- Kinesis ---------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  for_each = var.stream_names

  alarm_name          = "${var.prefix}-${each.key}-iterator-age"
  alarm_description   = "A consumer of ${each.value} is more than ${var.iterator_age_threshold_ms} ms behind."
  namespace           = "AWS/Kinesis"
  metric_name         = "GetRecords.IteratorAgeMilliseconds"
  dimensions          = { StreamName = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = var.iterator_age_threshold_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "stream_write_throttles" {
  for_each = var.stream_names

  alarm_name          = "${var.prefix}-${each.key}-write-throttles"
  alarm_description   = "PutRecords to ${each.value} are being throttled."
  namespace           = "AWS/Kinesis"
  metric_name         = "WriteProvisionedThroughputExceeded"
  dimensions          = { StreamName = each.value }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "stream_read_throttles" {
  for_each = var.stream_names

  alarm_name          = "${var.prefix}-${each.key}-read-throttles"
  alarm_description   = "GetRecords on ${each.value} are being throttled (too many readers per shard)."
  namespace           = "AWS/Kinesis"
  metric_name         = "ReadProvisionedThroughputExceeded"
  dimensions          = { StreamName = each.value }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- DynamoDB --------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "table_throttles" {
  for_each = var.table_names

  alarm_name          = "${var.prefix}-${each.key}-throttles"
  alarm_description   = "Requests to ${each.value} are being throttled."
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "throttles"
    expression  = "reads + writes"
    label       = "Throttle events"
    return_data = true
  }

  metric_query {
    id = "reads"
    metric {
      namespace   = "AWS/DynamoDB"
      metric_name = "ReadThrottleEvents"
      dimensions  = { TableName = each.value }
      stat        = "Sum"
      period      = 60
    }
  }

  metric_query {
    id = "writes"
    metric {
      namespace   = "AWS/DynamoDB"
      metric_name = "WriteThrottleEvents"
      dimensions  = { TableName = each.value }
      stat        = "Sum"
      period      = 60
    }
  }
}

# --- API and load balancer -------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.prefix}-api-5xx"
  alarm_description   = "The HTTP API answers 5xx."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  dimensions          = { ApiId = var.api_id }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = var.http_5xx_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "alb_target_5xx" {
  alarm_name          = "${var.prefix}-alb-target-5xx"
  alarm_description   = "Services behind the internal ALB answer 5xx."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = { LoadBalancer = var.alb_arn_suffix }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = var.http_5xx_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "alb_unhealthy" {
  for_each = var.target_group_arn_suffixes

  alarm_name          = "${var.prefix}-${each.key}-unhealthy-targets"
  alarm_description   = "Tasks of ${each.key} fail their readiness check behind the ALB."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- workers ---------------------------------------------------------------------------------

# Services log JSON lines (services/common/logging.py); each `"level": "error"` line counts.
resource "aws_cloudwatch_log_metric_filter" "errors" {
  for_each = var.services

  name           = "${var.prefix}-${each.key}-errors"
  log_group_name = each.value.log_group
  pattern        = "{ $.level = \"error\" }"

  metric_transformation {
    name       = "ErrorLogs"
    namespace  = local.namespace
    value      = "1"
    dimensions = { Service = "$.service" }
    unit       = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "worker_errors" {
  for_each = local.workers

  alarm_name          = "${var.prefix}-${each.key}-errors"
  alarm_description   = "The ${each.key} worker logs errors."
  namespace           = local.namespace
  metric_name         = aws_cloudwatch_log_metric_filter.errors[each.key].metric_transformation[0].name
  dimensions          = { Service = each.key }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.worker_error_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "worker_not_running" {
  for_each = local.workers

  alarm_name          = "${var.prefix}-${each.key}-not-running"
  alarm_description   = "No task of the ${each.key} worker group is running: its shards are not processed."
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = each.key }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
