output "distribution_id" {
  description = "CloudFront distribution (invalidate after uploading web/)."
  value       = aws_cloudfront_distribution.this.id
}

output "domain_name" {
  description = "The venue's address: https://<this>/"
  value       = aws_cloudfront_distribution.this.domain_name
}

output "distribution_arn" {
  description = "CloudFront distribution ARN."
  value       = aws_cloudfront_distribution.this.arn
}
