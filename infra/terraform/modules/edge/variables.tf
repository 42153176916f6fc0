variable "prefix" {
  description = "Name prefix of every resource."
  type        = string
}

variable "routes" {
  description = "URL prefix → { service, websocket }: topology.ROUTES, from the services module."
  type        = map(object({ service = string, websocket = bool }))
}

variable "web_bucket" {
  description = "The web bucket (data module): id, arn, bucket_regional_domain_name."
  type = object({
    id                          = string
    arn                         = string
    bucket_regional_domain_name = string
  })
}

variable "api_domain" {
  description = "Host name of the HTTP API (api module)."
  type        = string
}

variable "alb_arn" {
  description = "The internal ALB (services module), reached through a CloudFront VPC origin."
  type        = string
}

variable "alb_dns_name" {
  description = "DNS name of the internal ALB."
  type        = string
}

variable "logs_bucket_domain_name" {
  description = "Bucket receiving CloudFront standard logs (ACLs enabled)."
  type        = string
}

variable "domain_name" {
  description = "Custom domain of the venue (null: the cloudfront.net name)."
  type        = string
  default     = null
}

variable "certificate_arn" {
  description = "ACM certificate in us-east-1 for domain_name (null: CloudFront's default certificate)."
  type        = string
  default     = null
}

variable "waf_enabled" {
  description = "Put a WAF web ACL (rate limit + AWS managed rules) in front of CloudFront."
  type        = bool
  default     = true
}

variable "waf_requests_per_5_minutes_per_ip" {
  description = "Requests one IP may make in 5 minutes before the WAF blocks it."
  type        = number
  default     = 6000
}

variable "log_retention_days" {
  description = "Retention of the WAF log group."
  type        = number
  default     = 365
}

variable "price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"
}

variable "blocked_countries" {
  description = "ISO country codes refused at the edge (empty: none)."
  type        = list(string)
  default     = []
}
