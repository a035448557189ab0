variable "alert_email" {
  description = "E-mail address the alerts and the uptime check notify (a Cloud Monitoring e-mail channel). Required while alerts_enabled is true."
  type        = string
  default     = null
  validation {
    condition     = !var.alerts_enabled || (var.alert_email != null && can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email)))
    error_message = "Set alert_email to the address alerts should reach (alerts_enabled is true), or set alerts_enabled = false."
  }
}

variable "alerts_enabled" {
  description = "Create the uptime check and the alert policies (they notify alert_email and notification_channels)."
  type        = bool
  default     = true
}

variable "artifact_registry_repo" {
  description = "Artifact Registry Docker repository that holds the images."
  type        = string
  default     = "ballsy"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,62}$", var.artifact_registry_repo))
    error_message = "artifact_registry_repo: lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "billing_account_id" {
  description = "Billing account (XXXXXX-XXXXXX-XXXXXX) for the optional monthly budget; null creates no budget."
  type        = string
  default     = null
  validation {
    condition     = var.billing_account_id == null || can(regex("^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$", var.billing_account_id))
    error_message = "billing_account_id looks like 012345-6789AB-CDEF01."
  }
}

variable "budget_alert_thresholds" {
  description = "Fractions of the budget at which the billing admins are e-mailed."
  type        = list(number)
  default     = [0.5, 0.9, 1.0]
  validation {
    condition     = alltrue([for t in var.budget_alert_thresholds : t > 0 && t <= 2])
    error_message = "Each budget threshold is a fraction between 0 and 2 (1.0 = 100 %)."
  }
}

variable "budget_amount_usd" {
  description = "Monthly budget in US dollars (whole units)."
  type        = number
  default     = 25
  validation {
    condition     = var.budget_amount_usd >= 1 && floor(var.budget_amount_usd) == var.budget_amount_usd
    error_message = "budget_amount_usd is a whole number of dollars, at least 1."
  }
}

variable "build_service_account_id" {
  description = "Account id of the service account Cloud Build runs as (pushes images, writes build logs)."
  type        = string
  default     = "ballsy-build-sa"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.build_service_account_id))
    error_message = "build_service_account_id: 6-30 lower-case letters, digits and hyphens."
  }
}

variable "concurrency" {
  description = "Requests (each open WebSocket counts as one) served at once by one instance: 500 connected users (one process held 1,000 signed-in sockets asking every 2-5 s at 40% of a core; DEPLOYMENT.md, Sizing)."
  type        = number
  default     = 500
  validation {
    condition     = var.concurrency >= 1 && var.concurrency <= 1000
    error_message = "concurrency is between 1 and 1000."
  }
}

variable "cors_origins" {
  description = "Other browser origins allowed to call the API, e.g. [\"https://ballsy.example.com\"]. Empty: only the page the service itself serves. Never \"*\"."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for o in var.cors_origins : o != "*" && can(regex("^https?://[^/*,\\s]+$", o))])
    error_message = "cors_origins lists explicit origins (scheme://host[:port], no path, no '*')."
  }
}

variable "cpu" {
  description = "vCPUs per instance."
  type        = string
  default     = "1"
  validation {
    condition     = contains(["1", "2", "4", "6", "8"], var.cpu)
    error_message = "cpu is one of 1, 2, 4, 6, 8."
  }
}

variable "database_backups_retained" {
  description = "Number of daily automated backups kept."
  type        = number
  default     = 7
  validation {
    condition     = var.database_backups_retained >= 1 && var.database_backups_retained <= 365
    error_message = "database_backups_retained is between 1 and 365."
  }
}

variable "database_disk_autoresize_limit_gb" {
  description = "Upper bound for automatic storage growth, in GB (0 = no limit)."
  type        = number
  default     = 50
  validation {
    condition     = var.database_disk_autoresize_limit_gb == 0 || var.database_disk_autoresize_limit_gb >= 20
    error_message = "database_disk_autoresize_limit_gb is 0 (no limit) or at least the 20 GB disk."
  }
}

variable "database_disk_size_gb" {
  description = "Initial SSD size of the Cloud SQL instance, in GB."
  type        = number
  default     = 20
  validation {
    condition     = var.database_disk_size_gb >= 10
    error_message = "database_disk_size_gb is at least 10."
  }
}

variable "database_instance_name" {
  description = "Cloud SQL instance name (a deleted name cannot be reused for about a week)."
  type        = string
  default     = "ballsy-db"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,96}[a-z0-9]$", var.database_instance_name))
    error_message = "database_instance_name: lower-case letters, digits and hyphens."
  }
}

variable "database_name" {
  description = "Database created on the instance for Ballsy."
  type        = string
  default     = "ballsydb"
  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.database_name))
    error_message = "database_name: lower-case letters, digits and underscores."
  }
}

variable "database_password_version" {
  description = "Raise by one to send the database password (a write-only argument) to Cloud SQL and Secret Manager again, e.g. after `terraform apply -replace=random_password.database`."
  type        = number
  default     = 1
  validation {
    condition     = var.database_password_version >= 1 && floor(var.database_password_version) == var.database_password_version
    error_message = "database_password_version is a whole number, at least 1."
  }
}

variable "database_tier" {
  description = "Cloud SQL machine tier. db-f1-micro (shared core, 25 connections of which the app can open 22) is the cheapest."
  type        = string
  default     = "db-f1-micro"
  validation {
    condition     = can(regex("^db-", var.database_tier))
    error_message = "database_tier is a Cloud SQL tier such as db-f1-micro or db-g1-small."
  }
}

variable "database_user" {
  description = "Database user Ballsy connects as; its password is generated."
  type        = string
  default     = "ballsy"
  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.database_user))
    error_message = "database_user: lower-case letters, digits and underscores (URL-safe)."
  }
}

variable "database_version" {
  description = "PostgreSQL major version (POSTGRES_15 or later)."
  type        = string
  default     = "POSTGRES_15"
  validation {
    condition     = can(regex("^POSTGRES_(1[5-9]|[2-9][0-9])$", var.database_version))
    error_message = "database_version is POSTGRES_15 or later."
  }
}

variable "db_max_overflow" {
  description = "Connections each instance may open beyond the pool (DB_MAX_OVERFLOW)."
  type        = number
  default     = 1
  validation {
    condition     = var.db_max_overflow >= 0 && var.db_max_overflow <= 50
    error_message = "db_max_overflow is between 0 and 50."
  }
}

variable "db_pool_size" {
  description = "Pooled database connections per instance (DB_POOL_SIZE)."
  type        = number
  default     = 2
  validation {
    condition     = var.db_pool_size >= 1 && var.db_pool_size <= 50
    error_message = "db_pool_size is between 1 and 50."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the Cloud SQL instance, the service and the job (set false, apply, then destroy)."
  type        = bool
  default     = true
}

variable "error_rate_critical" {
  description = "Share of 5xx responses (0-1) that raises the critical alert."
  type        = number
  default     = 0.05
  validation {
    condition     = var.error_rate_critical > 0 && var.error_rate_critical < 1
    error_message = "error_rate_critical is a fraction between 0 and 1."
  }
}

variable "error_rate_min_requests_per_minute" {
  description = "The 5xx alerts stay quiet below this many requests a minute (one failed request of two is not an outage)."
  type        = number
  default     = 6
  validation {
    condition     = var.error_rate_min_requests_per_minute >= 0
    error_message = "error_rate_min_requests_per_minute is 0 or more."
  }
}

variable "error_rate_warning" {
  description = "Share of 5xx responses (0-1) that raises the warning alert."
  type        = number
  default     = 0.01
  validation {
    condition     = var.error_rate_warning > 0 && var.error_rate_warning < 1
    error_message = "error_rate_warning is a fraction between 0 and 1."
  }
}

variable "gemini_api_key_version" {
  description = "Secret Manager version of the Gemini API key to serve (e.g. \"1\"), as printed by `gcloud secrets versions add`. Never \"latest\"."
  type        = string
  default     = null
  validation {
    condition     = var.gemini_api_key_version == null || can(regex("^[1-9][0-9]*$", var.gemini_api_key_version))
    error_message = "gemini_api_key_version is a version number such as \"1\", not \"latest\"."
  }
}

variable "gemini_model" {
  description = "Gemini model for answers (GEMINI_MODEL): the cheap Flash-Lite tier by default."
  type        = string
  default     = "gemini-2.5-flash-lite"
  validation {
    condition     = can(regex("^gemini-", var.gemini_model))
    error_message = "gemini_model names a Gemini model, e.g. gemini-2.5-flash-lite."
  }
}

variable "gemini_use_vertex_ai" {
  description = "Call Gemini through Vertex AI with the service account (no API key; grants roles/aiplatform.user)."
  type        = bool
  default     = false
}

variable "image" {
  description = "Image the service runs, by tag or digest (e.g. us-central1-docker.pkg.dev/PROJECT/ballsy/ballsy:1a2b3c4). null until the first build: the service and job are then not created yet."
  type        = string
  default     = null
  validation {
    condition     = var.image == null || can(regex("^[a-z0-9.-]+(/[A-Za-z0-9._-]+)+(@sha256:[0-9a-f]{64}|:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})$", var.image)) && !endswith(coalesce(var.image, "x"), ":latest")
    error_message = "image needs an explicit tag or @sha256 digest, and not :latest."
  }
}

variable "images_to_keep" {
  description = "Most recent image versions Artifact Registry keeps (older ones are deleted after 30 days)."
  type        = number
  default     = 10
  validation {
    condition     = var.images_to_keep >= 2
    error_message = "images_to_keep is at least 2, so a rollback target survives."
  }
}

variable "labels" {
  description = "Labels applied to every resource that supports them."
  type        = map(string)
  default     = { app = "ballsy" }
  validation {
    condition     = alltrue([for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))])
    error_message = "Label keys start with a lower-case letter; keys and values use lower-case letters, digits, '_' and '-' (63 characters at most)."
  }
}

variable "latency_p95_critical_ms" {
  description = "p95 request latency (ms) that raises the critical alert."
  type        = number
  default     = 5000
  validation {
    condition     = var.latency_p95_critical_ms > 0
    error_message = "latency_p95_critical_ms is positive."
  }
}

variable "latency_p95_warning_ms" {
  description = "p95 request latency (ms) that raises the warning alert."
  type        = number
  default     = 2000
  validation {
    condition     = var.latency_p95_warning_ms > 0
    error_message = "latency_p95_warning_ms is positive."
  }
}

variable "log_level" {
  description = "Application log level (LOG_LEVEL)."
  type        = string
  default     = "INFO"
  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level is DEBUG, INFO, WARNING or ERROR."
  }
}

variable "max_instances" {
  description = "Most instances serving at once, across revisions (service-level cap; also each revision's cap). (2 × max_instances + 1) × (db_pool_size + db_max_overflow) + 3 must fit the connections the tier lets the app open."
  type        = number
  default     = 2
  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 100
    error_message = "max_instances is between 1 and 100."
  }
}

variable "memory" {
  description = "Memory per instance: the server (about 80 MB) plus each speech worker (200-250 MB resident with the embedded model of about 0.3 GB on disk), with room for peaks."
  type        = string
  default     = "2Gi"
  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.memory))
    error_message = "memory is like 512Mi or 2Gi."
  }
}

variable "metrics_enabled" {
  description = "Serve Prometheus metrics at /metrics behind a generated bearer token (secret METRICS_TOKEN)."
  type        = bool
  default     = true
}

variable "migration_image" {
  description = "Image the migration job runs; defaults to image. Set it to the new image to migrate before shifting traffic."
  type        = string
  default     = null
  validation {
    condition     = var.migration_image == null || can(regex("(@sha256:[0-9a-f]{64}|:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})$", var.migration_image)) && !endswith(coalesce(var.migration_image, "x"), ":latest")
    error_message = "migration_image needs an explicit tag or @sha256 digest, and not :latest."
  }
}

variable "min_instances" {
  description = "Instances kept warm; 0 scales to zero (cheapest, with cold starts)."
  type        = number
  default     = 0
  validation {
    condition     = var.min_instances >= 0 && var.min_instances <= 10
    error_message = "min_instances is between 0 and 10."
  }
}

variable "notification_channels" {
  description = "Further Cloud Monitoring notification channel ids (projects/P/notificationChannels/N) the alerts go to, besides alert_email."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", c))])
    error_message = "Each notification channel is projects/PROJECT/notificationChannels/ID."
  }
}

variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id is a Google Cloud project id (6-30 lower-case letters, digits, hyphens)."
  }
}

variable "public_access" {
  description = "Let anyone invoke the service (the service's invoker IAM check is switched off; no allUsers binding). false: callers need roles/run.invoker."
  type        = bool
  default     = true
}

variable "region" {
  description = "Region for Cloud Run, Cloud SQL and Artifact Registry."
  type        = string
  default     = "us-central1"
  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region is a Google Cloud region such as us-central1."
  }
}

variable "request_timeout_seconds" {
  description = "Longest request, so the longest WebSocket voice session, before Cloud Run closes it (max 3600)."
  type        = number
  default     = 3600
  validation {
    condition     = var.request_timeout_seconds >= 60 && var.request_timeout_seconds <= 3600
    error_message = "request_timeout_seconds is between 60 and 3600."
  }
}

variable "runtime_service_account_id" {
  description = "Account id of the runtime service account."
  type        = string
  default     = "ballsy-run-sa"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.runtime_service_account_id))
    error_message = "runtime_service_account_id: 6-30 lower-case letters, digits and hyphens."
  }
}

variable "service_name" {
  description = "Cloud Run service name; also prefixes the job, secrets and alerts."
  type        = string
  default     = "ballsy"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,40}[a-z0-9]$", var.service_name))
    error_message = "service_name: lower-case letters, digits and hyphens, at most 42 characters."
  }
}

variable "stt_enabled" {
  description = "Transcribe uploaded audio on the server with the embedded speech model (STT_ENABLED)."
  type        = bool
  default     = true
}

variable "tools_enabled" {
  description = "Timers and reminders are on: create the WAKE_TOKEN secret and a Cloud Scheduler job that calls POST /internal/due, so due items fire while no instance runs."
  type        = bool
  default     = false
}

variable "wake_schedule" {
  description = "Cron schedule (UTC) of the wake-up job when tools_enabled is true: every minute by default."
  type        = string
  default     = "* * * * *"
  validation {
    condition     = length(split(" ", trimspace(var.wake_schedule))) == 5
    error_message = "wake_schedule is a five-field cron expression, e.g. \"* * * * *\"."
  }
}
