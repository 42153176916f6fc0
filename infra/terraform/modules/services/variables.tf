variable "prefix" {
  description = "Resource prefix (TRADESTACK_RESOURCE_PREFIX)."
  type        = string
}

variable "environment" {
  description = "TRADESTACK_ENVIRONMENT: production refuses unsafe settings (demo mode, development keys)."
  type        = string
  default     = "production"

  validation {
    condition     = contains(["development", "production"], var.environment)
    error_message = "environment is development or production."
  }
}

variable "demo_mode" {
  description = "TRADESTACK_DEMO_MODE: demo markets and a faucet open to every user. Never in production."
  type        = bool
  default     = false
}

variable "log_level" {
  description = "TRADESTACK_LOG_LEVEL."
  type        = string
  default     = "INFO"
}

variable "image_tag" {
  description = "Tag of the tradestack image in this stack's ECR repository (tags are immutable)."
  type        = string
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64: the architecture the image was built for."
  type        = string
  default     = "X86_64"
}

variable "vpc_id" {
  description = "VPC of the tasks."
  type        = string
}

variable "vpc_cidr_block" {
  description = "CIDR of the VPC (the VPC link reaches the ALB from inside it)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks and the internal ALB."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "Customer-managed key (data module)."
  type        = string
}

variable "stream_arns" {
  description = "Stream ARN by logical name (data module)."
  type        = map(string)
}

variable "table_arns" {
  description = "Table ARN by logical name (data module)."
  type        = map(string)
}

variable "bucket_arns" {
  description = "Bucket ARN by logical name (data module)."
  type        = map(string)
}

variable "logs_bucket" {
  description = "Bucket receiving the ALB access logs."
  type        = string
}

variable "cognito_issuer" {
  description = "TRADESTACK_AUTH_COGNITO_ISSUER: accept Cognito tokens from this issuer too (empty: only our own)."
  type        = string
  default     = ""
}

variable "cognito_client_ids" {
  description = "TRADESTACK_AUTH_COGNITO_CLIENT_IDS: app clients whose Cognito tokens are accepted."
  type        = list(string)
  default     = []
}

variable "default_task_cpu" {
  description = "Fargate CPU units of a task (1024 = 1 vCPU)."
  type        = number
  default     = 256
}

variable "default_task_memory" {
  description = "Fargate memory of a task, MiB."
  type        = number
  default     = 512
}

variable "task_cpu" {
  description = "CPU units by service, overriding default_task_cpu (e.g. { matching = 1024 })."
  type        = map(number)
  default     = {}
}

variable "task_memory" {
  description = "Memory MiB by service, overriding default_task_memory."
  type        = map(number)
  default     = {}
}

variable "api_min_tasks" {
  description = "Fewest tasks of each stateless API (2+ spreads them over AZs)."
  type        = number
  default     = 2
}

variable "api_max_tasks" {
  description = "Most tasks of each stateless API."
  type        = number
  default     = 10
}

variable "api_cpu_target_percent" {
  description = "Average CPU the API autoscaling aims for."
  type        = number
  default     = 60
}

variable "enable_execute_command" {
  description = "Allow `aws ecs execute-command` into tasks (audited in the ecs-exec log group)."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention of the service log groups."
  type        = number
  default     = 365
}

variable "deletion_protection" {
  description = "ALB deletion protection."
  type        = bool
  default     = true
}

variable "force_delete_images" {
  description = "Let `terraform destroy` delete the ECR repository with its images (dev only)."
  type        = bool
  default     = false
}
