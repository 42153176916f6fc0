variable "prefix" {
  description = "Name prefix of every resource."
  type        = string
}

variable "cidr_block" {
  description = "VPC CIDR; public subnets take /24s at its start, private subnets /20s after them."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones (names) to spread subnets over, e.g. [\"us-east-1a\", \"us-east-1b\"]."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 6
    error_message = "The ALB and the VPC link need at least two AZs."
  }
}

variable "nat_gateway_count" {
  description = "NAT gateways: 1 is cheap (dev), one per AZ survives an AZ outage (prod)."
  type        = number
  default     = 1
}

variable "kms_key_arn" {
  description = "Key encrypting the flow-log group."
  type        = string
}

variable "log_retention_days" {
  description = "Flow-log retention."
  type        = number
  default     = 365
}
