variable "prefix" {
  description = "Name prefix of every resource."
  type        = string
}

variable "kms_key_arn" {
  description = "Key encrypting the alarm topic."
  type        = string
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each must confirm by e-mail)."
  type        = list(string)
  default     = []
}

variable "stream_names" {
  description = "Physical stream name by logical name (data module)."
  type        = map(string)
}

variable "table_names" {
  description = "Physical table name by logical name (data module)."
  type        = map(string)
}

variable "services" {
  description = "Services (services module): kind and log group of each."
  type = map(object({
    port            = number
    kind            = string
    log_group       = string
    task_definition = string
  }))
}

variable "cluster_name" {
  description = "ECS cluster."
  type        = string
}

variable "api_id" {
  description = "HTTP API id."
  type        = string
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the internal ALB."
  type        = string
}

variable "target_group_arn_suffixes" {
  description = "Target group ARN suffix by service."
  type        = map(string)
}

variable "iterator_age_threshold_ms" {
  description = "Alarm when a stream's consumer is further behind than this."
  type        = number
  default     = 30000
}

variable "http_5xx_threshold" {
  description = "5xx answers per minute that count as a breach."
  type        = number
  default     = 5
}

variable "worker_error_threshold" {
  description = "Error lines a worker may log in 5 minutes before it alarms."
  type        = number
  default     = 0
}
