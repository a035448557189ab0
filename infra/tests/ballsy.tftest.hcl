# Design assertions for the root module, run offline with mock providers:
#   .venv-infra/bin/python infra/tools/tfcheck.py test
# Mocks return fixed values for the computed attributes the assertions read.

mock_provider "google" {
  mock_resource "google_sql_database_instance" {
    defaults = {
      connection_name = "ballsy-test-123:us-central1:ballsy-db"
    }
  }
  mock_resource "google_secret_manager_secret_version" {
    defaults = {
      version = "1"
    }
  }
  mock_resource "google_service_account" {
    defaults = {
      email  = "ballsy-run-sa@ballsy-test-123.iam.gserviceaccount.com"
      member = "serviceAccount:ballsy-run-sa@ballsy-test-123.iam.gserviceaccount.com"
    }
  }
  mock_resource "google_cloud_run_v2_service" {
    defaults = {
      uri = "https://ballsy-abc123-uc.a.run.app"
    }
  }
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
}

# The budget's own provider (providers.tf: user_project_override + billing_project). Its mock
# names budgets differently, so a test can tell which provider created one.
mock_provider "google" {
  alias = "billing"
  mock_resource "google_billing_budget" {
    defaults = {
      name = "billingAccounts/012345-6789AB-CDEF01/budgets/made-through-the-billing-alias"
    }
  }
}

mock_provider "google-beta" {}

mock_provider "random" {
  mock_resource "random_password" {
    defaults = {
      result = "Q7xk2PzR9mWb4TnV8cYh3LdJ6sGf5HaE"
    }
  }
}

variables {
  project_id   = "ballsy-test-123"
  cors_origins = ["https://ballsy.example.com"]
  alert_email  = "oncall@ballsy.example.com"
}

run "first_apply_creates_the_foundation_but_no_service_before_an_image_exists" {
  command = apply

  assert {
    condition     = length(google_cloud_run_v2_service.app) == 0 && length(google_cloud_run_v2_job.migrate) == 0
    error_message = "Without an image the service and job must wait for the first build."
  }

  assert {
    condition = alltrue([for s in ["run.googleapis.com", "artifactregistry.googleapis.com", "sqladmin.googleapis.com",
      "secretmanager.googleapis.com", "cloudbuild.googleapis.com", "aiplatform.googleapis.com",
    "logging.googleapis.com", "monitoring.googleapis.com", "cloudresourcemanager.googleapis.com"] : contains(keys(google_project_service.enabled), s)])
    error_message = "Every API the seed lists must be enabled, and Cloud Resource Manager for the project data source."
  }

  assert {
    condition     = !contains(keys(google_project_service.enabled), "cloudscheduler.googleapis.com") && length(google_cloud_scheduler_job.wake) == 0 && length(google_secret_manager_secret.wake_token) == 0
    error_message = "Without tools there is no scheduler API, wake-up job or wake token."
  }

  assert {
    condition     = google_artifact_registry_repository.images.format == "DOCKER" && google_artifact_registry_repository.images.location == "us-central1"
    error_message = "Artifact Registry must be a Docker repository in the region."
  }

  assert {
    condition     = output.cloud_run_url == null && output.instance_connection_name == "ballsy-test-123:us-central1:ballsy-db"
    error_message = "Outputs must be usable before the first image."
  }
}

run "cloud_sql_is_small_reachable_tls_only_and_backed_up" {
  command = apply

  assert {
    condition     = startswith(google_sql_database_instance.main.database_version, "POSTGRES_") && tonumber(split("_", google_sql_database_instance.main.database_version)[1]) >= 15
    error_message = "PostgreSQL 15 or later."
  }

  assert {
    condition = (
      google_sql_database_instance.main.settings[0].tier == "db-f1-micro" &&
      google_sql_database_instance.main.settings[0].edition == "ENTERPRISE" &&
      google_sql_database_instance.main.settings[0].disk_size == 20 &&
      google_sql_database_instance.main.settings[0].disk_type == "PD_SSD" &&
      google_sql_database_instance.main.settings[0].disk_autoresize
    )
    error_message = "db-f1-micro (ENTERPRISE edition), 20 GB SSD with auto-resize."
  }

  assert {
    # Creatable and reachable: a public IP (used only by IAM-checked connectors), no open networks.
    condition = (
      google_sql_database_instance.main.settings[0].ip_configuration[0].ipv4_enabled &&
      length(google_sql_database_instance.main.settings[0].ip_configuration[0].authorized_networks) == 0
    )
    error_message = "The instance needs a public IP with no authorized networks (or a private network)."
  }

  assert {
    condition     = contains(["ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"], google_sql_database_instance.main.settings[0].ip_configuration[0].ssl_mode)
    error_message = "Connections must be TLS-only."
  }

  assert {
    condition     = google_sql_database_instance.main.settings[0].backup_configuration[0].enabled
    error_message = "Automated backups must be on."
  }

  assert {
    condition     = google_sql_database_instance.main.deletion_protection && google_sql_database_instance.main.settings[0].deletion_protection_enabled
    error_message = "Deletion protection defaults to on."
  }

  assert {
    condition     = google_sql_database.app.name == "ballsydb"
    error_message = "The database is ballsydb."
  }
}

run "password_is_url_safe_and_database_url_has_the_cloud_run_form" {
  command = apply

  assert {
    condition     = !random_password.database.special && random_password.database.length >= 24
    error_message = "The generated password must use letters and digits only (URL-safe) and be long."
  }

  assert {
    condition     = nonsensitive(local.database_url) == "postgresql+psycopg2://ballsy:Q7xk2PzR9mWb4TnV8cYh3LdJ6sGf5HaE@/ballsydb?host=/cloudsql/ballsy-test-123:us-central1:ballsy-db"
    error_message = "DATABASE_URL must be postgresql+psycopg2://USER:PASSWORD@/ballsydb?host=/cloudsql/CONNECTION_NAME."
  }

  assert {
    # Write-only arguments carry the password (tests/infra/test_terraform.py checks that the
    # stored `password` and `secret_data` arguments are not set): the version says when to
    # send it again.
    condition = (
      google_sql_user.app.password_wo_version == 1 &&
      tostring(google_secret_manager_secret_version.database_url.secret_data_wo_version) == "1"
    )
    error_message = "The database password goes through password_wo and secret_data_wo at version 1."
  }

  assert {
    condition     = output.database_url_secret == "ballsy-database-url"
    error_message = "No output repeats the password; the guide reads it from the DATABASE_URL secret."
  }
}

run "service_matches_the_sizing_and_pins_image_and_secret_versions" {
  command = apply

  variables {
    image                  = "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:1a2b3c4"
    gemini_api_key_version = "3"
  }

  assert {
    condition     = google_cloud_run_v2_service.app[0].template[0].containers[0].image == "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:1a2b3c4"
    error_message = "The service runs exactly the image given."
  }

  assert {
    condition = (
      google_cloud_run_v2_service.app[0].template[0].containers[0].resources[0].limits.cpu == "1" &&
      google_cloud_run_v2_service.app[0].template[0].containers[0].resources[0].limits.memory == "2Gi" &&
      google_cloud_run_v2_service.app[0].template[0].max_instance_request_concurrency == 500 &&
      google_cloud_run_v2_service.app[0].template[0].scaling[0].min_instance_count == 0 &&
      google_cloud_run_v2_service.app[0].template[0].scaling[0].max_instance_count == 2
    )
    error_message = "1 vCPU, 2 GiB, concurrency 500 (connected users per instance), 0 to 2 instances per revision."
  }

  assert {
    condition     = google_cloud_run_v2_service.app[0].scaling[0].max_instance_count == 2
    error_message = "The instance cap is also set for the whole service (across revisions with traffic)."
  }

  assert {
    # (2 × 2 + 1) × (2 + 1) + 3 = 18 of db-f1-micro's 22 usable connections.
    condition     = local.connection_budget == 18 && local.usable_connections == 22
    error_message = "The default connection budget counts the previous revision's instances and fits 22 connections."
  }

  assert {
    condition = (
      google_cloud_run_v2_service.app[0].template[0].containers[0].startup_probe[0].period_seconds *
      google_cloud_run_v2_service.app[0].template[0].containers[0].startup_probe[0].failure_threshold
    ) == 240
    error_message = "The startup probe waits the longest Cloud Run allows (240 s) for /ready, which waits for the models."
  }

  assert {
    condition     = google_cloud_run_v2_service.app[0].template[0].timeout == "3600s" && google_cloud_run_v2_service.app[0].template[0].session_affinity
    error_message = "WebSocket sessions need the 3600 s request timeout and session affinity."
  }

  assert {
    condition     = google_cloud_run_v2_service.app[0].template[0].containers[0].ports[0].container_port == 8080
    error_message = "The container listens on 8080."
  }

  assert {
    condition = (
      google_cloud_run_v2_service.app[0].template[0].containers[0].startup_probe[0].http_get[0].path == "/ready" &&
      google_cloud_run_v2_service.app[0].template[0].containers[0].liveness_probe[0].http_get[0].path == "/health"
    )
    error_message = "Startup probe on /ready, liveness on /health."
  }

  assert {
    condition = (
      contains(google_cloud_run_v2_service.app[0].template[0].volumes[0].cloud_sql_instance[0].instances, "ballsy-test-123:us-central1:ballsy-db") &&
      google_cloud_run_v2_service.app[0].template[0].containers[0].volume_mounts[0].mount_path == "/cloudsql"
    )
    error_message = "Cloud SQL is mounted at /cloudsql."
  }

  assert {
    condition = alltrue([
      for e in google_cloud_run_v2_service.app[0].template[0].containers[0].env :
      can(regex("^[1-9][0-9]*$", e.value_source[0].secret_key_ref[0].version)) if length(e.value_source) > 0
    ])
    error_message = "Every secret is pinned to a numbered version, never latest."
  }

  assert {
    condition = {
      for e in google_cloud_run_v2_service.app[0].template[0].containers[0].env :
      e.name => e.value_source[0].secret_key_ref[0].version if length(e.value_source) > 0
    } == { DATABASE_URL = "1", GEMINI_API_KEY = "3", METRICS_TOKEN = "1" }
    error_message = "DATABASE_URL, GEMINI_API_KEY and METRICS_TOKEN come from Secret Manager at pinned versions."
  }

  assert {
    condition = {
      for e in google_cloud_run_v2_service.app[0].template[0].containers[0].env : e.name => e.value if length(e.value_source) == 0
      }["CORS_ORIGINS"] == "https://ballsy.example.com" && {
      for e in google_cloud_run_v2_service.app[0].template[0].containers[0].env : e.name => e.value if length(e.value_source) == 0
    }["RATE_LIMIT_STORE"] == "postgres"
    error_message = "CORS origins pass through; several instances share rate limits in PostgreSQL."
  }

  assert {
    condition     = google_cloud_run_v2_job.migrate[0].template[0].template[0].containers[0].command == tolist(["ballsy"]) && google_cloud_run_v2_job.migrate[0].template[0].template[0].containers[0].args == tolist(["db", "upgrade"])
    error_message = "The migration job runs `ballsy db upgrade`."
  }

  assert {
    condition     = google_cloud_run_v2_job.migrate[0].template[0].template[0].containers[0].image == google_cloud_run_v2_service.app[0].template[0].containers[0].image
    error_message = "The job runs the service's image unless migration_image says otherwise."
  }

  assert {
    condition     = google_cloud_run_v2_service.app[0].traffic[0].type == "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST" && google_cloud_run_v2_service.app[0].traffic[0].percent == 100
    error_message = "Terraform sends all traffic to the newest revision."
  }

  assert {
    condition     = output.cloud_run_url == "https://ballsy-abc123-uc.a.run.app"
    error_message = "cloud_run_url is the service URI."
  }
}

run "public_access_needs_no_all_users_binding_and_secrets_are_granted_one_by_one" {
  command = apply

  variables {
    image                  = "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    gemini_api_key_version = "1"
  }

  assert {
    condition     = google_cloud_run_v2_service.app[0].invoker_iam_disabled
    error_message = "Public access switches the invoker check off instead of binding allUsers (refused under domain-restricted sharing)."
  }

  assert {
    condition     = alltrue([for m in google_project_iam_member.runtime : m.member != "allUsers" && m.role != "roles/secretmanager.secretAccessor"])
    error_message = "No project-wide secret access and no project role for allUsers."
  }

  assert {
    condition     = toset(keys(google_project_iam_member.runtime)) == toset(["roles/cloudsql.client"])
    error_message = "The runtime account has only Cloud SQL client on the project (logs go to stdout; no metrics are pushed)."
  }

  assert {
    condition = (
      toset([for m in google_secret_manager_secret_iam_member.runtime : m.secret_id]) ==
      toset(["ballsy-database-url", "ballsy-gemini-api-key", "ballsy-metrics-token"]) &&
      alltrue([for m in google_secret_manager_secret_iam_member.runtime : m.role == "roles/secretmanager.secretAccessor"])
    )
    error_message = "Secret access is bound on each secret the runtime reads."
  }
}

run "a_private_service_keeps_the_invoker_check" {
  command = apply

  variables {
    image                  = "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:v1"
    gemini_api_key_version = "1"
    public_access          = false
  }

  assert {
    condition     = !google_cloud_run_v2_service.app[0].invoker_iam_disabled
    error_message = "public_access = false leaves invoking to roles/run.invoker holders."
  }
}

run "vertex_ai_mode_drops_the_key_and_grants_aiplatform_user" {
  command = apply

  variables {
    image                = "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:v1"
    gemini_use_vertex_ai = true
    max_instances        = 1
  }

  assert {
    condition     = contains(keys(google_project_iam_member.runtime), "roles/aiplatform.user") && length(google_secret_manager_secret.gemini_api_key) == 0
    error_message = "Vertex AI mode uses the service account, not a key."
  }

  assert {
    condition = {
      for e in google_cloud_run_v2_service.app[0].template[0].containers[0].env : e.name => e.value if length(e.value_source) == 0
      }["GOOGLE_GENAI_USE_VERTEXAI"] == "true" && {
      for e in google_cloud_run_v2_service.app[0].template[0].containers[0].env : e.name => e.value if length(e.value_source) == 0
    }["RATE_LIMIT_STORE"] == "memory"
    error_message = "Vertex mode is switched on in the app; one instance keeps rate limits in memory."
  }
}

run "alerts_use_the_agreed_thresholds_and_reach_the_email_channel" {
  command = apply

  variables {
    image                  = "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:v1"
    gemini_api_key_version = "1"
    notification_channels  = ["projects/ballsy-test-123/notificationChannels/42"]
  }

  assert {
    condition = (
      google_monitoring_notification_channel.email[0].type == "email" &&
      google_monitoring_notification_channel.email[0].labels.email_address == "oncall@ballsy.example.com"
    )
    error_message = "An e-mail channel is made from alert_email."
  }

  assert {
    condition = (
      google_monitoring_alert_policy.latency_p95["warning"].conditions[0].condition_threshold[0].threshold_value == 2 &&
      google_monitoring_alert_policy.latency_p95["critical"].conditions[0].condition_threshold[0].threshold_value == 5 &&
      google_monitoring_alert_policy.latency_p95["warning"].severity == "WARNING" &&
      google_monitoring_alert_policy.latency_p95["critical"].severity == "CRITICAL"
    )
    error_message = "p95 latency alerts at 2 s (warning) and 5 s (critical), in the log metric's seconds."
  }

  assert {
    condition = (
      strcontains(google_logging_metric.request_latency[0].filter, "httpRequest.status!=101") &&
      strcontains(google_logging_metric.request_latency[0].filter, "NOT httpRequest.requestUrl:\"/ws/\"") &&
      strcontains(google_logging_metric.request_latency[0].filter, "NOT httpRequest.requestUrl:\"/api/voice\"") &&
      strcontains(google_logging_metric.request_latency[0].filter, "NOT httpRequest.requestUrl:\"/v1/audio/\"") &&
      strcontains(google_monitoring_alert_policy.latency_p95["warning"].conditions[0].condition_threshold[0].filter, "logging.googleapis.com/user/ballsy/request_latency")
    )
    error_message = "The latency alert reads a log metric that leaves out WebSockets and the speech routes."
  }

  assert {
    condition = (
      strcontains(google_monitoring_alert_policy.error_rate["warning"].conditions[0].condition_prometheus_query_language[0].query, "> 0.01)") &&
      strcontains(google_monitoring_alert_policy.error_rate["critical"].conditions[0].condition_prometheus_query_language[0].query, "> 0.05)") &&
      endswith(google_monitoring_alert_policy.error_rate["warning"].conditions[0].condition_prometheus_query_language[0].query, "[5m])) >= 0.1)")
    )
    error_message = "5xx alerts at 1 % (warning) and 5 % (critical), only above 6 requests a minute (0.1 a second)."
  }

  assert {
    condition = (
      google_monitoring_uptime_check_config.health[0].http_check[0].path == "/health" &&
      google_monitoring_uptime_check_config.health[0].http_check[0].use_ssl &&
      google_monitoring_uptime_check_config.health[0].monitored_resource[0].labels.host == "ballsy-abc123-uc.a.run.app" &&
      strcontains(google_monitoring_alert_policy.uptime[0].conditions[0].condition_threshold[0].filter, "uptime_check/check_passed")
    )
    error_message = "An uptime check calls /health on the service's host over HTTPS, and its failure alerts."
  }

  assert {
    condition = (
      google_monitoring_alert_policy.database["connections"].conditions[0].condition_threshold[0].threshold_value == 17 &&
      strcontains(google_monitoring_alert_policy.database["connections"].conditions[0].condition_threshold[0].filter, "postgresql/num_backends") &&
      strcontains(google_monitoring_alert_policy.database["cpu"].conditions[0].condition_threshold[0].filter, "database/cpu/utilization") &&
      strcontains(google_monitoring_alert_policy.database["disk"].conditions[0].condition_threshold[0].filter, "database/disk/utilization") &&
      alltrue([for p in values(google_monitoring_alert_policy.database) : strcontains(p.conditions[0].condition_threshold[0].filter, "resource.labels.database_id = \"ballsy-test-123:ballsy-db\"")])
    )
    error_message = "Cloud SQL alerts: connections over 80 % of the 22 usable, CPU, disk, on this instance."
  }

  assert {
    condition = (
      strcontains(google_monitoring_alert_policy.migration_failed[0].conditions[0].condition_threshold[0].filter, "resource.labels.job_name = \"ballsy-migrate\"") &&
      strcontains(google_monitoring_alert_policy.migration_failed[0].conditions[0].condition_threshold[0].filter, "metric.labels.result = \"failed\"")
    )
    error_message = "A failed execution of the migration job alerts."
  }

  assert {
    condition = alltrue([
      for p in concat(
        values(google_monitoring_alert_policy.latency_p95), values(google_monitoring_alert_policy.error_rate),
        values(google_monitoring_alert_policy.database), google_monitoring_alert_policy.uptime, google_monitoring_alert_policy.migration_failed,
      ) : tolist(p.notification_channels) == tolist([google_monitoring_notification_channel.email[0].id, "projects/ballsy-test-123/notificationChannels/42"])
    ])
    error_message = "Every alert goes to the e-mail channel and the extra channels."
  }

  assert {
    condition     = length(google_billing_budget.monthly) == 0
    error_message = "No budget without a billing account."
  }
}

run "alerts_need_an_email_address" {
  command = plan

  variables {
    alert_email = null
  }

  expect_failures = [var.alert_email]
}

run "alerts_refuse_a_malformed_email_address" {
  command = plan

  variables {
    alert_email = "oncall-at-example.com"
  }

  expect_failures = [var.alert_email]
}

run "without_alerts_no_email_is_needed_and_nothing_is_watched" {
  command = apply

  variables {
    alerts_enabled         = false
    alert_email            = null
    image                  = "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:v1"
    gemini_api_key_version = "1"
  }

  assert {
    condition = (
      length(google_monitoring_notification_channel.email) == 0 &&
      length(google_monitoring_uptime_check_config.health) == 0 &&
      length(google_monitoring_alert_policy.latency_p95) == 0 &&
      length(google_monitoring_alert_policy.database) == 0 &&
      length(google_monitoring_alert_policy.migration_failed) == 0
    )
    error_message = "alerts_enabled = false creates no channel, check or policy."
  }
}

run "the_database_user_is_abandoned_on_destroy" {
  command = apply

  assert {
    condition     = google_sql_user.app.deletion_policy == "ABANDON"
    error_message = "The user owns the tables: destroy must forget it, not DROP ROLE it (which PostgreSQL refuses)."
  }

  assert {
    condition     = google_sql_database_instance.main.settings[0].connector_enforcement == "REQUIRED"
    error_message = "Only Cloud SQL connectors (the /cloudsql socket, the Auth Proxy) may connect."
  }
}

run "images_are_built_by_a_terraform_managed_account_that_can_push_only_here" {
  command = apply

  assert {
    condition = (
      google_artifact_registry_repository_iam_member.build_push.role == "roles/artifactregistry.writer" &&
      google_artifact_registry_repository_iam_member.build_push.member == google_service_account.build.member &&
      google_artifact_registry_repository_iam_member.build_push.repository == google_artifact_registry_repository.images.name
    )
    error_message = "The build account may push to this repository only."
  }

  assert {
    condition     = toset(keys(google_project_iam_member.build)) == toset(["roles/logging.logWriter", "roles/storage.objectViewer"])
    error_message = "The build account writes build logs and reads the staged source, nothing else project-wide."
  }

  assert {
    condition     = google_service_account.build.account_id == "ballsy-build-sa" && output.build_service_account == google_service_account.build.id
    error_message = "The guide passes the build account to gcloud builds submit from an output."
  }
}

run "budget_is_created_through_the_billing_alias_when_a_billing_account_is_given" {
  command = apply

  variables {
    billing_account_id = "012345-6789AB-CDEF01"
  }

  assert {
    condition = (
      google_billing_budget.monthly[0].budget_filter[0].projects == toset(["projects/123456789012"]) &&
      [for r in google_billing_budget.monthly[0].threshold_rules : r.threshold_percent] == [0.5, 0.9, 1.0]
    )
    error_message = "The budget covers this project and alerts at 50/90/100 %."
  }

  assert {
    condition     = google_billing_budget.monthly[0].name == "billingAccounts/012345-6789AB-CDEF01/budgets/made-through-the-billing-alias"
    error_message = "The budget is made by the google.billing provider (user_project_override + billing_project)."
  }

  assert {
    condition     = contains(keys(google_project_service.enabled), "billingbudgets.googleapis.com")
    error_message = "The quota project (this one) needs the Billing Budgets API."
  }
}

run "tools_add_the_wake_token_and_a_scheduler_that_wakes_the_service" {
  command = apply

  variables {
    tools_enabled          = true
    image                  = "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:v1"
    gemini_api_key_version = "1"
  }

  assert {
    condition = (
      google_cloud_scheduler_job.wake[0].schedule == "* * * * *" &&
      google_cloud_scheduler_job.wake[0].http_target[0].http_method == "POST" &&
      google_cloud_scheduler_job.wake[0].http_target[0].uri == "https://ballsy-abc123-uc.a.run.app/internal/due" &&
      nonsensitive(google_cloud_scheduler_job.wake[0].http_target[0].headers["Authorization"]) == "Bearer ${nonsensitive(random_password.wake_token[0].result)}"
    )
    error_message = "Every minute the job POSTs /internal/due on the service with the wake token as a bearer token."
  }

  assert {
    condition = {
      for e in google_cloud_run_v2_service.app[0].template[0].containers[0].env :
      e.name => e.value_source[0].secret_key_ref[0].secret if length(e.value_source) > 0
    }["WAKE_TOKEN"] == "ballsy-wake-token"
    error_message = "The service reads the same token from Secret Manager as WAKE_TOKEN."
  }

  assert {
    condition = (
      contains([for m in google_secret_manager_secret_iam_member.runtime : m.secret_id], "ballsy-wake-token") &&
      contains(keys(google_project_service.enabled), "cloudscheduler.googleapis.com") &&
      output.wake_job_name == "ballsy-wake"
    )
    error_message = "The runtime may read the token; the Cloud Scheduler API is enabled."
  }
}

run "the_wake_job_needs_a_public_service" {
  command = plan

  variables {
    tools_enabled          = true
    public_access          = false
    image                  = "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:v1"
    gemini_api_key_version = "1"
  }

  expect_failures = [google_cloud_scheduler_job.wake]
}

run "cors_may_be_empty_for_a_same_origin_page" {
  command = plan

  variables {
    cors_origins = []
  }
}

run "cors_refuses_a_wildcard" {
  command = plan

  variables {
    cors_origins = ["*"]
  }

  expect_failures = [var.cors_origins]
}

run "image_refuses_latest" {
  command = plan

  variables {
    image = "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:latest"
  }

  expect_failures = [var.image]
}

run "image_refuses_an_implicit_tag" {
  command = plan

  variables {
    image = "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy"
  }

  expect_failures = [var.image]
}

run "secret_version_refuses_latest" {
  command = plan

  variables {
    gemini_api_key_version = "latest"
  }

  expect_failures = [var.gemini_api_key_version]
}

run "connection_pool_must_fit_the_tier" {
  command = plan

  variables {
    image                  = "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:v1"
    gemini_api_key_version = "1"
    max_instances          = 3
  }

  # (2 × 3 + 1) × 3 + 3 = 24 > 22: three instances fit only if the overlap is forgotten.
  expect_failures = [google_cloud_run_v2_service.app]
}

run "a_larger_tier_takes_more_instances" {
  command = plan

  variables {
    image                  = "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:v1"
    gemini_api_key_version = "1"
    max_instances          = 4
    database_tier          = "db-g1-small"
  }

  assert {
    condition     = local.connection_budget == 30 && local.usable_connections == 47
    error_message = "(2 × 4 + 1) × 3 + 3 = 30 fits db-g1-small's 47."
  }
}

run "a_release_migrates_first_with_the_new_image_while_the_service_keeps_the_old" {
  command = apply

  variables {
    image                  = "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:old"
    migration_image        = "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:new"
    gemini_api_key_version = "1"
  }

  assert {
    condition = (
      google_cloud_run_v2_job.migrate[0].template[0].template[0].containers[0].image == "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:new" &&
      google_cloud_run_v2_service.app[0].template[0].containers[0].image == "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:old"
    )
    error_message = "migration_image moves only the job; the service keeps serving image."
  }
}

run "the_first_migration_can_run_before_any_service_exists" {
  command = apply

  variables {
    migration_image        = "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:first"
    gemini_api_key_version = "1"
  }

  assert {
    condition     = length(google_cloud_run_v2_service.app) == 0 && length(google_cloud_run_v2_job.migrate) == 1
    error_message = "The job exists once an image is built, before the service."
  }
}

run "the_service_needs_a_pinned_gemini_key_version_or_vertex_ai" {
  command = plan

  variables {
    image = "us-central1-docker.pkg.dev/ballsy-test-123/ballsy/ballsy:v1"
  }

  expect_failures = [google_cloud_run_v2_service.app, google_cloud_run_v2_job.migrate]
}
