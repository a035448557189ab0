# The runtime identity of the service and the migration job, with only what they use.
resource "google_service_account" "runtime" {
  account_id   = var.runtime_service_account_id
  display_name = "${var.service_name} runtime (Cloud Run service and migration job)"

  depends_on = [google_project_service.enabled]
}

locals {
  runtime_project_roles = concat(
    [
      "roles/cloudsql.client",        # the /cloudsql socket
      "roles/logging.logWriter",      # structured logs
      "roles/monitoring.metricWriter" # custom metrics
    ],
    var.gemini_use_vertex_ai ? ["roles/aiplatform.user"] : [],
  )
}

resource "google_project_iam_member" "runtime" {
  for_each = toset(local.runtime_project_roles)

  project = var.project_id
  role    = each.value
  member  = google_service_account.runtime.member
}

# Secret access is granted on each secret the runtime reads, never project-wide.
resource "google_secret_manager_secret_iam_member" "runtime" {
  for_each = local.secret_env

  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member
}

# The seed asks for a public endpoint: anyone may invoke this one service (v2 IAM resource).
resource "google_cloud_run_v2_service_iam_member" "public_invoker" {
  count = var.public_access && var.image != null ? 1 : 0

  project  = google_cloud_run_v2_service.app[0].project
  location = google_cloud_run_v2_service.app[0].location
  name     = google_cloud_run_v2_service.app[0].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
