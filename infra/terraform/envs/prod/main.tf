# The production stack: a NAT gateway per AZ, at least two tasks per API, deletion protection,
# long retention, WAF, TRADESTACK_ENVIRONMENT=production (which refuses demo mode and
# development keys).

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project     = "tradestack"
      environment = "prod"
      stack       = var.prefix
    }
  }
}

# CloudFront-scoped WAF resources live in us-east-1.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = {
      project     = "tradestack"
      environment = "prod"
      stack       = var.prefix
    }
  }
}

module "data" {
  source = "../../modules/data"

  prefix                 = var.prefix
  stream_mode            = var.stream_mode
  stream_retention_hours = 168
  archive_retention_days = 2555
  log_retention_days     = var.log_retention_days
  deletion_protection    = true
  force_destroy_buckets  = false
}

module "network" {
  source = "../../modules/network"

  prefix             = var.prefix
  cidr_block         = var.vpc_cidr_block
  availability_zones = var.availability_zones
  nat_gateway_count  = length(var.availability_zones)
  kms_key_arn        = module.data.kms_key_arn
  log_retention_days = var.log_retention_days
}

module "services" {
  source = "../../modules/services"

  prefix                 = var.prefix
  environment            = "production"
  demo_mode              = false
  log_level              = "INFO"
  image_tag              = var.image_tag
  cpu_architecture       = var.cpu_architecture
  vpc_id                 = module.network.vpc_id
  vpc_cidr_block         = module.network.vpc_cidr_block
  private_subnet_ids     = module.network.private_subnet_ids
  kms_key_arn            = module.data.kms_key_arn
  stream_arns            = module.data.stream_arns
  table_arns             = module.data.table_arns
  bucket_arns            = module.data.bucket_arns
  logs_bucket            = module.data.logs_bucket.id
  cognito_issuer         = module.api.cognito_issuer
  cognito_client_ids     = module.api.cognito_client_ids
  task_cpu               = { matching = 1024, orders = 512 }
  task_memory            = { matching = 2048, orders = 1024 }
  api_min_tasks          = 2
  api_max_tasks          = 10
  enable_execute_command = false
  log_retention_days     = var.log_retention_days
  deletion_protection    = true
  force_delete_images    = false
}

module "api" {
  source = "../../modules/api"

  prefix                = var.prefix
  vpc_id                = module.network.vpc_id
  private_subnet_ids    = module.network.private_subnet_ids
  alb_listener_arn      = module.services.alb.listener_arn
  alb_security_group_id = module.services.alb_security_group_id
  routes                = module.services.routes
  gateway_prefixes      = module.services.gateway_prefixes
  jwt_authorizer        = var.jwt_authorizer
  throttle_rate_limit   = 2000
  throttle_burst_limit  = 4000
  kms_key_arn           = module.data.kms_key_arn
  log_retention_days    = var.log_retention_days
  deletion_protection   = true
}

module "edge" {
  source = "../../modules/edge"

  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  prefix                  = var.prefix
  routes                  = module.services.routes
  web_bucket              = module.data.web_bucket
  api_domain              = module.api.api_domain
  alb_arn                 = module.services.alb.arn
  alb_dns_name            = module.services.alb.dns_name
  logs_bucket_domain_name = module.data.logs_bucket.domain_name
  domain_name             = var.domain_name
  certificate_arn         = var.certificate_arn
  waf_enabled             = true
  log_retention_days      = var.log_retention_days
}

module "observability" {
  source = "../../modules/observability"

  prefix                    = var.prefix
  kms_key_arn               = module.data.kms_key_arn
  alarm_emails              = var.alarm_emails
  stream_names              = module.data.stream_names
  table_names               = module.data.table_names
  services                  = module.services.services
  cluster_name              = module.services.cluster_name
  api_id                    = module.api.api_id
  alb_arn_suffix            = module.services.alb.arn_suffix
  target_group_arn_suffixes = module.services.target_group_arn_suffixes
}
