# Secrets reach Cloud Run as environment variables pinned to a version: a new value takes
# effect only through a deliberate apply, never by surprise at the next cold start.
#
# Values Terraform generates are written with write-only arguments (secret_data_wo), so the
# secret versions' state holds no copy; the generated values live once each in the state, in
# their random_password resources. Keep the state in a private bucket (DEPLOYMENT.md).
locals {
  database_url = join("", [
    "postgresql+psycopg2://", google_sql_user.app.name, ":", urlencode(random_password.database.result),
    "@/", google_sql_database.app.name,
    "?host=/cloudsql/", google_sql_database_instance.main.connection_name,
  ])

  # Environment variable -> { secret, version } for every secret the runtime reads.
  secret_env = merge(
    {
      DATABASE_URL = {
        secret  = google_secret_manager_secret.database_url.secret_id
        version = google_secret_manager_secret_version.database_url.version
      }
    },
    var.gemini_use_vertex_ai ? {} : {
      GEMINI_API_KEY = {
        secret  = google_secret_manager_secret.gemini_api_key[0].secret_id
        version = var.gemini_api_key_version
      }
    },
    var.metrics_enabled ? {
      METRICS_TOKEN = {
        secret  = google_secret_manager_secret.metrics_token[0].secret_id
        version = google_secret_manager_secret_version.metrics_token[0].version
      }
    } : {},
    var.tools_enabled ? {
      WAKE_TOKEN = {
        secret  = google_secret_manager_secret.wake_token[0].secret_id
        version = google_secret_manager_secret_version.wake_token[0].version
      }
    } : {},
  )
}

resource "google_secret_manager_secret" "database_url" {
  secret_id = "${var.service_name}-database-url"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_version" "database_url" {
  secret                 = google_secret_manager_secret.database_url.id
  secret_data_wo         = local.database_url
  secret_data_wo_version = var.database_password_version
}

# The Gemini key's value is added outside Terraform (DEPLOYMENT.md), so it never enters the
# state; Terraform only pins the version the service reads.
resource "google_secret_manager_secret" "gemini_api_key" {
  count     = var.gemini_use_vertex_ai ? 0 : 1
  secret_id = "${var.service_name}-gemini-api-key"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

# Bearer token for GET /metrics: production refuses METRICS_ENABLED=true without one.
resource "random_password" "metrics_token" {
  count   = var.metrics_enabled ? 1 : 0
  length  = 40
  special = false
}

resource "google_secret_manager_secret" "metrics_token" {
  count     = var.metrics_enabled ? 1 : 0
  secret_id = "${var.service_name}-metrics-token"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_version" "metrics_token" {
  count                  = var.metrics_enabled ? 1 : 0
  secret                 = google_secret_manager_secret.metrics_token[0].id
  secret_data_wo         = random_password.metrics_token[0].result
  secret_data_wo_version = 1
}

# Bearer token Cloud Scheduler presents to POST /internal/due (scheduler.tf); the service
# reads it as WAKE_TOKEN. Letters and digits: it travels in an HTTP header.
resource "random_password" "wake_token" {
  count   = var.tools_enabled ? 1 : 0
  length  = 40
  special = false
}

resource "google_secret_manager_secret" "wake_token" {
  count     = var.tools_enabled ? 1 : 0
  secret_id = "${var.service_name}-wake-token"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_version" "wake_token" {
  count                  = var.tools_enabled ? 1 : 0
  secret                 = google_secret_manager_secret.wake_token[0].id
  secret_data_wo         = random_password.wake_token[0].result
  secret_data_wo_version = 1
}
