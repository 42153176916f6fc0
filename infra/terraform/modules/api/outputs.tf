output "api_id" {
  description = "HTTP API id (metrics dimension ApiId)."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "https://<id>.execute-api.<region>.amazonaws.com"
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "api_domain" {
  description = "Host name of the API endpoint (CloudFront origin)."
  value       = replace(aws_apigatewayv2_api.this.api_endpoint, "https://", "")
}

output "route_keys" {
  description = "Every route key, e.g. \"ANY /api/orders/{proxy+}\"."
  value       = keys(local.route_keys)
}

output "cognito_issuer" {
  description = "Issuer of the Cognito user pool's tokens (empty without Cognito)."
  value       = local.cognito ? "https://${aws_cognito_user_pool.this[0].endpoint}" : ""
}

output "cognito_client_ids" {
  description = "App clients whose Cognito tokens the services accept."
  value       = aws_cognito_user_pool_client.web[*].id
}

output "cognito_user_pool_id" {
  description = "Cognito user pool (null without Cognito)."
  value       = local.cognito ? aws_cognito_user_pool.this[0].id : null
}
