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

  # Connections the app's user can really open on each Cloud SQL tier: max_connections less
  # the slots PostgreSQL reserves for superusers (25 - 3 = 22 on db-f1-micro; an equivalent
  # local server let the app user open exactly 22).
  tier_usable_connections = {
    "db-f1-micro" = 22
    "db-g1-small" = 47
  }
  # The migration job, an operator's Auth Proxy session and the hourly retention run's own
  # short-lived connection.
  admin_connections = 3
  # The newest revision may overshoot max_instances by one for a moment, and while it takes
  # over, the previous revision keeps instances (up to max_instances: the revision-level cap)
  # for the WebSockets still open on it, for up to request_timeout_seconds. The service-level
  # cap counts only revisions that receive traffic, so both are budgeted.
  connections_per_instance = var.db_pool_size + var.db_max_overflow
  connection_budget        = (2 * var.max_instances + 1) * local.connections_per_instance + local.admin_connections
  usable_connections       = lookup(local.tier_usable_connections, var.database_tier, 97)

  # How long Cloud Run waits for /ready on a new instance (the most a service allows is 240 s):
  # /ready waits for the speech model (and any other model the app preloads) to load.
  startup_probe_period_seconds    = 4
  startup_probe_failure_threshold = 60

  cloudsql_mount_path = "/cloudsql"
  container_port      = 8080
}

resource "google_cloud_run_v2_service" "app" {
  count = var.image == null ? 0 : 1

  name                = var.service_name
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection
  # Public without an allUsers IAM binding, which organisation policies restricting members
  # (iam.allowedPolicyMemberDomains) refuse. Off: callers need roles/run.invoker.
  invoker_iam_disabled = var.public_access

  # Across every revision that receives traffic: the cap the connection budget relies on.
  scaling {
    max_instance_count = var.max_instances
  }

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

    # Per revision: also caps a previous revision that keeps instances for open WebSockets.
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

      # /ready answers ready once the database is reachable and migrated and the speech model
      # is loaded, so the first spoken request never pays for the load.
      startup_probe {
        initial_delay_seconds = 0
        period_seconds        = local.startup_probe_period_seconds
        timeout_seconds       = 2
        failure_threshold     = local.startup_probe_failure_threshold
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
      condition     = local.connection_budget <= local.usable_connections
      error_message = "Too many database connections: (2 × max_instances + 1) × (db_pool_size + db_max_overflow) + ${local.admin_connections} = ${local.connection_budget} exceeds the ${local.usable_connections} ${var.database_tier} lets the app open."
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
