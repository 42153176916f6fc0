output "ecr_repository_url" {
  description = "Push the tradestack image here (docs/deploy.md)."
  value       = aws_ecr_repository.this.repository_url
}

output "encryption_key_secret_arn" {
  description = "Secret holding TRADESTACK_AUTH_ENCRYPTION_KEY; put its value before the first deployment."
  value       = aws_secretsmanager_secret.encryption_key.arn
}

output "cluster_name" {
  description = "ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "services" {
  description = "Every service: port, kind (api or worker), log group, task definition family."
  value = {
    for name, service in local.services : name => {
      port            = service.port
      kind            = service.kind
      log_group       = aws_cloudwatch_log_group.service[name].name
      task_definition = aws_ecs_task_definition.this[name].family
    }
  }
}

output "routes" {
  description = "URL prefix → service (topology.ROUTES), for API Gateway and CloudFront."
  value       = local.routes
}

output "gateway_prefixes" {
  description = "Prefixes the Python gateway serves (merged OpenAPI, Swagger UI)."
  value       = local.gateway_prefixes
}

output "alb" {
  description = "The internal ALB: ARN, ARN suffix (metrics), DNS name, listener."
  value = {
    arn          = aws_lb.this.arn
    arn_suffix   = aws_lb.this.arn_suffix
    dns_name     = aws_lb.this.dns_name
    listener_arn = aws_lb_listener.http.arn
  }
}

output "target_group_arn_suffixes" {
  description = "Target group ARN suffix by service (metrics)."
  value       = { for name, group in aws_lb_target_group.this : name => group.arn_suffix }
}

output "alb_security_group_id" {
  description = "Security group of the internal ALB."
  value       = aws_security_group.alb.id
}

output "task_security_group_id" {
  description = "Security group of every task."
  value       = aws_security_group.tasks.id
}

output "private_subnet_ids" {
  description = "Subnets of the tasks (for `aws ecs run-task`)."
  value       = var.private_subnet_ids
}
