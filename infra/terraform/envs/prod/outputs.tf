output "url" {
  description = "Open this: the trading UI, the API under /api, the WebSocket at /ws."
  value       = "https://${module.edge.domain_name}/"
}

output "ecr_repository_url" {
  description = "docker push target."
  value       = module.services.ecr_repository_url
}

output "encryption_key_secret_arn" {
  description = "Put TRADESTACK_AUTH_ENCRYPTION_KEY here before the services start."
  value       = module.services.encryption_key_secret_arn
}

output "web_bucket" {
  description = "Upload web/ here."
  value       = module.data.web_bucket.id
}

output "distribution_id" {
  description = "Invalidate after uploading web/."
  value       = module.edge.distribution_id
}

output "api_endpoint" {
  description = "The HTTP API without CloudFront."
  value       = module.api.api_endpoint
}

output "cluster_name" {
  description = "ECS cluster (run-task, execute-command)."
  value       = module.services.cluster_name
}

output "private_subnet_ids" {
  description = "Subnets for one-off tasks."
  value       = module.network.private_subnet_ids
}

output "task_security_group_id" {
  description = "Security group for one-off tasks."
  value       = module.services.task_security_group_id
}

output "cognito_user_pool_id" {
  description = "Cognito user pool (null without Cognito)."
  value       = module.api.cognito_user_pool_id
}

output "dashboard" {
  description = "CloudWatch dashboard name."
  value       = module.observability.dashboard_name
}
