# The streams, tables and buckets of services/common/resources.py, one entry each.
#
# resources.py is the one definition; this file mirrors it for Terraform and
# tests/infra/test_terraform_data.py fails as soon as the two disagree (names, keys, indexes,
# TTL). Add a resource there first, then here. Physical names are `<prefix>-<name>` with `_`
# turned into `-`, exactly like `physical_name()`.

locals {
  streams = {
    orders     = { partition_key = "account" }
    matching   = { partition_key = "symbol" }
    accounts   = { partition_key = "account" }
    executions = { partition_key = "symbol" }
  }

  tables = {
    users = {
      hash_key  = "pk"
      range_key = "sk"
      ttl       = "expires_at"
      indexes   = []
    }
    api_keys = {
      hash_key  = "pk"
      range_key = "sk"
      ttl       = null
      indexes   = [{ name = "by_user", hash_key = "user_id", range_key = "sk" }]
    }
    orders = {
      hash_key  = "pk"
      range_key = "sk"
      ttl       = "expires_at"
      indexes   = [{ name = "by_account", hash_key = "account", range_key = "created" }]
    }
    trades = {
      hash_key  = "pk"
      range_key = "sk"
      ttl       = null
      indexes   = []
    }
    balances = {
      hash_key  = "pk"
      range_key = "sk"
      ttl       = null
      indexes   = []
    }
    ledger = {
      hash_key  = "pk"
      range_key = "sk"
      ttl       = null
      indexes   = []
    }
    leases = {
      hash_key  = "pk"
      range_key = "sk"
      ttl       = null
      indexes   = []
    }
    markets = {
      hash_key  = "pk"
      range_key = "sk"
      ttl       = null
      indexes   = []
    }
  }

  # Lifecycle per bucket: days before moving current objects to cheaper storage (null: never),
  # days before deleting them (null: never), and days old versions are kept.
  buckets = {
    snapshots = {
      infrequent_access_days = null
      glacier_days           = null
      expire_days            = null
      noncurrent_days        = 14
    }
    archive = {
      infrequent_access_days = 30
      glacier_days           = 180
      expire_days            = var.archive_retention_days
      noncurrent_days        = 30
    }
    web = {
      infrequent_access_days = null
      glacier_days           = null
      expire_days            = null
      noncurrent_days        = 30
    }
    backups = {
      infrequent_access_days = null
      glacier_days           = 30
      expire_days            = null
      noncurrent_days        = 90
    }
  }

  stream_names = { for name, _ in local.streams : name => replace("${var.prefix}-${name}", "_", "-") }
  table_names  = { for name, _ in local.tables : name => replace("${var.prefix}-${name}", "_", "-") }
  bucket_names = { for name, _ in local.buckets : name => replace("${var.prefix}-${name}", "_", "-") }
}
