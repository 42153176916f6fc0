variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "us-east-1"
}

variable "availability_zones" {
  description = "Two or more zones of the region."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b", "us-east-1c"]
}

variable "prefix" {
  description = "TRADESTACK_RESOURCE_PREFIX: names every stream, table and bucket. Bucket names are global: pick one nobody else has (e.g. acme-ts-prod)."
  type        = string
}

variable "image_tag" {
  description = "Tag of the image pushed to this stack's ECR repository (docs/deploy.md)."
  type        = string
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64, as the image was built."
  type        = string
  default     = "X86_64"
}

variable "vpc_cidr_block" {
  description = "CIDR of the VPC."
  type        = string
  default     = "10.50.0.0/16"
}

variable "stream_mode" {
  description = "ON_DEMAND, or PROVISIONED when the load is known and steady."
  type        = string
  default     = "ON_DEMAND"
}

variable "jwt_authorizer" {
  description = "none, or cognito (a user pool and a JWT authorizer on the orders routes)."
  type        = string
  default     = "none"
}

variable "domain_name" {
  description = "The venue's domain (null: the cloudfront.net name)."
  type        = string
  default     = null
}

variable "certificate_arn" {
  description = "ACM certificate in us-east-1 for domain_name."
  type        = string
  default     = null
}

variable "alarm_emails" {
  description = "Who receives alarms."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "Retention of every log group."
  type        = number
  default     = 365
}
