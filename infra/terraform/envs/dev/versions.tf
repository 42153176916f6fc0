terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.94.1"
    }
  }

  # State in S3 with native locking; bucket and key come from `terraform init -backend-config`
  # (docs/deploy.md), so no account-specific name is committed.
  backend "s3" {}
}
