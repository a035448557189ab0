# Timers and reminders must fire while no instance runs (the service scales to zero): every
# minute Cloud Scheduler calls POST /internal/due, and the service delivers what is due.
# Created only with tools_enabled and once the service exists.
#
# The request carries `Authorization: Bearer WAKE_TOKEN` (secrets.tf); the service compares it
# with its own WAKE_TOKEN. The service is public (invoker_iam_disabled), so the token, not IAM,
# decides who may wake it. Anyone allowed to read this job's configuration (roles/
# cloudscheduler.viewer) can read the token; all it lets them do is ask for due items early.
resource "google_cloud_scheduler_job" "wake" {
  count = var.tools_enabled && var.image != null ? 1 : 0

  name        = "${var.service_name}-wake"
  description = "Wakes ${var.service_name} to deliver due timers and reminders."
  region      = var.region
  schedule    = var.wake_schedule
  time_zone   = "Etc/UTC"
  # The endpoint answers quickly; a cold start (model load included) fits well inside.
  attempt_deadline = "180s"

  # The next minute's call is the retry.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${google_cloud_run_v2_service.app[0].uri}/internal/due"
    headers = {
      Authorization = "Bearer ${random_password.wake_token[0].result}"
    }
  }

  lifecycle {
    precondition {
      condition     = var.public_access
      error_message = "The wake-up job calls the public URL with its own bearer token: tools_enabled needs public_access = true."
    }
  }

  depends_on = [google_project_service.enabled]
}
