variable "prefix" {
  description = "Name prefix of every resource."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the internal ALB."
  type        = string
}

variable "private_subnet_ids" {
  description = "Subnets of the VPC link's network interfaces."
  type        = list(string)
}

variable "alb_listener_arn" {
  description = "Listener of the internal ALB (services module)."
  type        = string
}

variable "alb_security_group_id" {
  description = "Security group of the internal ALB (services module)."
  type        = string
}

variable "routes" {
  description = "URL prefix → { service, websocket }: topology.ROUTES, from the services module."
  type        = map(object({ service = string, websocket = bool }))
}

variable "gateway_prefixes" {
  description = "Prefixes served by the Python gateway (merged OpenAPI, Swagger UI)."
  type        = list(string)
}

variable "jwt_authorizer" {
  description = "none: the services verify tokens themselves (as locally). cognito: a Cognito user pool and a JWT authorizer on the orders routes."
  type        = string
  default     = "none"

  validation {
    condition     = contains(["none", "cognito"], var.jwt_authorizer)
    error_message = "jwt_authorizer is none or cognito."
  }
}

variable "throttle_rate_limit" {
  description = "Steady-state requests per second across the API (stage default)."
  type        = number
  default     = 1000
}

variable "throttle_burst_limit" {
  description = "Burst of requests across the API (stage default)."
  type        = number
  default     = 2000
}

variable "kms_key_arn" {
  description = "Key encrypting the access-log group."
  type        = string
}

variable "log_retention_days" {
  description = "Access-log retention."
  type        = number
  default     = 365
}

variable "deletion_protection" {
  description = "Cognito user pool deletion protection."
  type        = bool
  default     = true
}
