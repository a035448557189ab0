# PostgreSQL on the smallest shared-core tier. Reachable only through Google's connectors
# (Cloud Run's /cloudsql socket, the Cloud SQL Auth Proxy): a public IP with no authorized
# networks, connector_enforcement REQUIRED (a direct connection is refused even with a valid
# password), and every connection must present a client certificate, which the connectors do.
resource "google_sql_database_instance" "main" {
  # checkov:skip=CKV_GCP_60:Public IP without authorized networks; only IAM-authorised connectors with client certificates can connect. A private IP needs a VPC and peering, outside the free-tier budget.
  # checkov:skip=CKV2_GCP_20:Private IP needs a VPC, Private Service Access and a connector; see the CKV_GCP_60 reason.
  # checkov:skip=CKV_GCP_110:pgAudit adds log volume and cost; connection and lock logging below cover the small deployment.
  # checkov:skip=CKV_GCP_111:log_statement would log SQL text that includes user commands; kept off for privacy.
  # checkov:skip=CKV2_GCP_13:log_duration on every statement multiplies log volume; slow statements are visible in Query Insights.
  # checkov:skip=CKV_GCP_79:PostgreSQL 15 matches local development (docker-compose.yml); database_version is a variable.
  name                = var.database_instance_name
  region              = var.region
  database_version    = var.database_version
  deletion_protection = var.deletion_protection

  settings {
    edition                     = "ENTERPRISE" # shared-core tiers exist only in ENTERPRISE
    tier                        = var.database_tier
    availability_type           = "ZONAL"
    disk_type                   = "PD_SSD"
    disk_size                   = var.database_disk_size_gb
    disk_autoresize             = true
    disk_autoresize_limit       = var.database_disk_autoresize_limit_gb
    deletion_protection_enabled = var.deletion_protection
    connector_enforcement       = "REQUIRED"
    user_labels                 = var.labels

    ip_configuration {
      ipv4_enabled = true
      ssl_mode     = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    }

    backup_configuration {
      enabled                        = true
      start_time                     = "03:00"
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = 7

      backup_retention_settings {
        retained_backups = var.database_backups_retained
      }
    }

    maintenance_window {
      day          = 7
      hour         = 4
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = false
      record_client_address   = false
    }

    # Logging flags from the CIS benchmark for Cloud SQL for PostgreSQL.
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }

    database_flags {
      name  = "log_connections"
      value = "on"
    }

    database_flags {
      name  = "log_disconnections"
      value = "on"
    }

    database_flags {
      name  = "log_hostname"
      value = "on"
    }

    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }

    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }

    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }

    database_flags {
      name  = "log_min_messages"
      value = "error"
    }

    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_sql_database" "app" {
  name     = var.database_name
  instance = google_sql_database_instance.main.name
}

# Letters and digits only: the password sits inside DATABASE_URL, where '@', ':', '/' or '%'
# would change the URL's meaning. 32 of 62 symbols is about 190 bits.
resource "random_password" "database" {
  length  = 32
  special = false
  upper   = true
  lower   = true
  numeric = true
}

# The password is a write-only argument: sent to Cloud SQL, never kept in this resource's
# state. Raise database_password_version to send it again (after
# `terraform apply -replace=random_password.database`, to rotate it).
#
# ABANDON: the user owns every table, so PostgreSQL refuses to drop it ("role cannot be
# dropped because some objects depend on it") and `terraform destroy` would stop here.
# Destroy forgets the user instead; deleting the instance removes it with everything else.
resource "google_sql_user" "app" {
  name                = var.database_user
  instance            = google_sql_database_instance.main.name
  password_wo         = random_password.database.result
  password_wo_version = var.database_password_version
  deletion_policy     = "ABANDON"
}
