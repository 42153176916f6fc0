terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.82.0, < 6.0.0"
      # CloudFront-scoped WAF resources must be created in us-east-1.
      configuration_aliases = [aws.us_east_1]
    }
  }
}
