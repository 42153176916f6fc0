variable "prefix" {
  description = "Resource prefix (TRADESTACK_RESOURCE_PREFIX): every stream, table and bucket is named <prefix>-<name>. Bucket names are global, so choose one nobody else uses."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.prefix))
    error_message = "The prefix must match ^[a-z][a-z0-9-]{1,30}$ (services/common/settings.py)."
  }
}

variable "stream_mode" {
  description = "ON_DEMAND (no capacity planning; billed per stream-hour) or PROVISIONED (billed per shard-hour)."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "stream_mode is ON_DEMAND or PROVISIONED."
  }
}

variable "provisioned_shards" {
  description = "Shards per stream when stream_mode is PROVISIONED."
  type        = number
  default     = 1
}

variable "stream_retention_hours" {
  description = "Kinesis retention. Engines replay from their latest snapshot, so it must exceed the snapshot interval by a wide margin."
  type        = number
  default     = 168
}

variable "archive_retention_days" {
  description = "Days the executions archive is kept."
  type        = number
  default     = 2555
}

variable "log_retention_days" {
  description = "Retention of the Firehose log group and of the access-log bucket."
  type        = number
  default     = 365
}

variable "deletion_protection" {
  description = "DynamoDB deletion protection."
  type        = bool
  default     = true
}

variable "force_destroy_buckets" {
  description = "Let `terraform destroy` delete non-empty buckets (dev only)."
  type        = bool
  default     = false
}
