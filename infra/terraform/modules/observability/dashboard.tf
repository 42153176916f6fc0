# One dashboard for the whole venue: the order path from top (API) to bottom (streams, tables).

locals {
  widget_width = 12

  dashboard_widgets = [
    {
      title = "API requests and errors"
      metrics = [
        ["AWS/ApiGateway", "Count", "ApiId", var.api_id, { stat = "Sum" }],
        ["AWS/ApiGateway", "4xx", "ApiId", var.api_id, { stat = "Sum" }],
        ["AWS/ApiGateway", "5xx", "ApiId", var.api_id, { stat = "Sum" }],
      ]
    },
    {
      title = "API latency (p50, p99)"
      metrics = [
        ["AWS/ApiGateway", "Latency", "ApiId", var.api_id, { stat = "p50" }],
        ["AWS/ApiGateway", "Latency", "ApiId", var.api_id, { stat = "p99" }],
      ]
    },
    {
      title   = "Stream consumer lag (iterator age, ms)"
      metrics = [for name, stream in var.stream_names : ["AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", stream, { stat = "Maximum", label = name }]]
    },
    {
      title   = "Stream records in"
      metrics = [for name, stream in var.stream_names : ["AWS/Kinesis", "IncomingRecords", "StreamName", stream, { stat = "Sum", label = name }]]
    },
    {
      title = "Kinesis throttles"
      metrics = concat(
        [for name, stream in var.stream_names : ["AWS/Kinesis", "WriteProvisionedThroughputExceeded", "StreamName", stream, { stat = "Sum", label = "${name} write" }]],
        [for name, stream in var.stream_names : ["AWS/Kinesis", "ReadProvisionedThroughputExceeded", "StreamName", stream, { stat = "Sum", label = "${name} read" }]],
      )
    },
    {
      title = "DynamoDB throttles"
      metrics = concat(
        [for name, table in var.table_names : ["AWS/DynamoDB", "ReadThrottleEvents", "TableName", table, { stat = "Sum", label = "${name} read" }]],
        [for name, table in var.table_names : ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", table, { stat = "Sum", label = "${name} write" }]],
      )
    },
    {
      title   = "Service CPU (%)"
      metrics = [for name, _ in var.services : ["AWS/ECS", "CPUUtilization", "ClusterName", var.cluster_name, "ServiceName", name, { stat = "Average", label = name }]]
    },
    {
      title   = "Running tasks"
      metrics = [for name, _ in var.services : ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", var.cluster_name, "ServiceName", name, { stat = "Minimum", label = name }]]
    },
    {
      title   = "Errors logged"
      metrics = [for name, _ in var.services : [local.namespace, "ErrorLogs", "Service", name, { stat = "Sum", label = name }]]
    },
    {
      title = "ALB responses"
      metrics = [
        ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.alb_arn_suffix, { stat = "Sum" }],
        ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", var.alb_arn_suffix, { stat = "Sum" }],
        ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", var.alb_arn_suffix, { stat = "Sum" }],
      ]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.prefix
  dashboard_body = jsonencode({
    widgets = [
      for index, widget in local.dashboard_widgets : {
        type   = "metric"
        x      = (index % 2) * local.widget_width
        y      = floor(index / 2) * 6
        width  = local.widget_width
        height = 6
        properties = {
          title   = widget.title
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = 60
          metrics = widget.metrics
        }
      }
    ]
  })
}
