output "kms_key_arn" {
  description = "Customer-managed key encrypting streams, tables, buckets and log groups."
  value       = aws_kms_key.data.arn
}

output "stream_arns" {
  description = "Stream ARN by logical name (orders, matching, accounts, executions)."
  value       = { for name, stream in aws_kinesis_stream.this : name => stream.arn }
}

output "stream_names" {
  description = "Physical stream name by logical name."
  value       = local.stream_names
}

output "table_arns" {
  description = "Table ARN by logical name."
  value       = { for name, table in aws_dynamodb_table.this : name => table.arn }
}

output "table_names" {
  description = "Physical table name by logical name."
  value       = local.table_names
}

output "bucket_arns" {
  description = "Bucket ARN by logical name."
  value       = { for name, bucket in aws_s3_bucket.this : name => bucket.arn }
}

output "bucket_names" {
  description = "Physical bucket name by logical name."
  value       = local.bucket_names
}

output "web_bucket" {
  description = "The web bucket, for the edge module."
  value = {
    id                          = aws_s3_bucket.this["web"].id
    arn                         = aws_s3_bucket.this["web"].arn
    bucket_regional_domain_name = aws_s3_bucket.this["web"].bucket_regional_domain_name
  }
}

output "logs_bucket" {
  description = "Access-log bucket (ALB, CloudFront, S3)."
  value = {
    id          = aws_s3_bucket.logs.id
    arn         = aws_s3_bucket.logs.arn
    domain_name = aws_s3_bucket.logs.bucket_domain_name
  }
}

output "archive_delivery_stream" {
  description = "Firehose delivery stream archiving executions."
  value       = aws_kinesis_firehose_delivery_stream.archive.name
}
