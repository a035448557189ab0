# The Ballsy service and the job that migrates its database, on the same image, identity,
# settings and Cloud SQL socket. Both exist once `image` is set (after the first build).
locals {
  migration_image = coalesce(var.migration_image, var.image, "unset")

  # Every name is an upper-cased field of ballsy.config.Settings (tests/infra checks it).
  # PORT is not here: Cloud Run reserves it and injects the container port below.
  plain_env = merge(
    {
      ENVIRONMENT          = "production"
      GOOGLE_CLOUD_PROJECT = var.project_id
      CORS_ORIGINS         = join(",", var.cors_origins)
      TRUSTED_PROXY_HOPS   = "1" # Google's front end is the one proxy before the app
      LOG_FORMAT           = "json"
      LOG_LEVEL            = var.log_level
      DB_POOL_SIZE         = tostring(var.db_pool_size)
      DB_MAX_OVERFLOW      = tostring(var.db_max_overflow)
      # Rate limits must be shared once several instances can serve the same client.
      RATE_LIMIT_STORE = var.max_instances > 1 ? "postgres" : "memory"
      AI_PROVIDER      = "gemini"
      GEMINI_MODEL     = var.gemini_model
      METRICS_ENABLED  = tostring(var.metrics_enabled)
      STT_ENABLED      = tostring(var.stt_enabled)
    },
    var.gemini_use_vertex_ai ? {
      GOOGLE_GENAI_USE_VERTEXAI = "true"
      GOOGLE_CLOUD_LOCATION     = var.region
    } : {},
  )

  # Connections each Cloud SQL tier accepts (Cloud SQL quotas page); the pool budget below
  # keeps (max_instances + 1 overshoot) × (pool + overflow) + a few admin connections under it.
  tier_max_connections = {
    "db-f1-micro" = 25
    "db-g1-small" = 50
  }
  admin_connections = 3
  connection_budget = (var.max_instances + 1) * (var.db_pool_size + var.db_max_overflow) + local.admin_connections
  tier_connections  = lookup(local.tier_max_connections, var.database_tier, 100)

  cloudsql_mount_path = "/cloudsql"
  container_port      = 8080
}

resource "google_cloud_run_v2_service" "app" {
  count = var.image == null ? 0 : 1

  name                = var.service_name
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection

  # Terraform owns traffic: every apply sends all of it to the newest revision, so a manual
  # rollback (gcloud run services update-traffic) lasts until the next apply.
  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  template {
    service_account = google_service_account.runtime.email
    # A WebSocket is one request: this is the longest a voice session lasts before the
    # client reconnects. Cloud Run's default (300 s) would cut every session at 5 minutes.
    timeout                          = "${var.request_timeout_seconds}s"
    max_instance_request_concurrency = var.concurrency
    session_affinity                 = true
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    volumes {
      name = "cloudsql"
      cloud_sql_instance {
        instances = [google_sql_database_instance.main.connection_name]
      }
    }

    containers {
      image = var.image

      ports {
        container_port = local.container_port
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle          = true # billed only while serving requests: scale-to-zero friendly
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = local.plain_env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = local.secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value.secret
              version = env.value.version
            }
          }
        }
      }

      volume_mounts {
        name       = "cloudsql"
        mount_path = local.cloudsql_mount_path
      }

      # /ready checks the database; loading the speech model can take a while on a cold start.
      startup_probe {
        initial_delay_seconds = 0
        period_seconds        = 3
        timeout_seconds       = 2
        failure_threshold     = 40
        http_get {
          path = "/ready"
          port = local.container_port
        }
      }

      liveness_probe {
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3
        http_get {
          path = "/health"
          port = local.container_port
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.gemini_use_vertex_ai || var.gemini_api_key_version != null
      error_message = "Set gemini_api_key_version (the version printed by `gcloud secrets versions add`), or gemini_use_vertex_ai = true."
    }
    precondition {
      condition     = local.connection_budget <= local.tier_connections
      error_message = "Too many database connections: (max_instances + 1) × (db_pool_size + db_max_overflow) + ${local.admin_connections} = ${local.connection_budget} exceeds ${var.database_tier}'s ${local.tier_connections}."
    }
  }

  depends_on = [
    google_project_iam_member.runtime,
    google_secret_manager_secret_iam_member.runtime,
  ]
}

resource "google_cloud_run_v2_job" "migrate" {
  count = var.image == null && var.migration_image == null ? 0 : 1

  name                = "${var.service_name}-migrate"
  location            = var.region
  deletion_protection = var.deletion_protection

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = google_service_account.runtime.email
      timeout         = "600s"
      max_retries     = 1

      volumes {
        name = "cloudsql"
        cloud_sql_instance {
          instances = [google_sql_database_instance.main.connection_name]
        }
      }

      containers {
        image   = local.migration_image
        command = ["ballsy"]
        args    = ["db", "upgrade"]

        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
        }

        dynamic "env" {
          for_each = local.plain_env
          content {
            name  = env.key
            value = env.value
          }
        }

        dynamic "env" {
          for_each = local.secret_env
          content {
            name = env.key
            value_source {
              secret_key_ref {
                secret  = env.value.secret
                version = env.value.version
              }
            }
          }
        }

        volume_mounts {
          name       = "cloudsql"
          mount_path = local.cloudsql_mount_path
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.gemini_use_vertex_ai || var.gemini_api_key_version != null
      error_message = "Set gemini_api_key_version (the version printed by `gcloud secrets versions add`), or gemini_use_vertex_ai = true."
    }
  }

  depends_on = [
    google_project_iam_member.runtime,
    google_secret_manager_secret_iam_member.runtime,
  ]
}
