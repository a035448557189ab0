# The APIs the deployment uses. They stay enabled on destroy: turning an API off can break
# other workloads in the same project.
locals {
  services = concat(
    [
      "aiplatform.googleapis.com",
      "artifactregistry.googleapis.com",
      "cloudbuild.googleapis.com",
      "cloudresourcemanager.googleapis.com", # the google_project data source (budget.tf)
      "iam.googleapis.com",
      "logging.googleapis.com",
      "monitoring.googleapis.com",
      "run.googleapis.com",
      "secretmanager.googleapis.com",
      "sqladmin.googleapis.com",
    ],
    var.billing_account_id == null ? [] : ["billingbudgets.googleapis.com"],
    var.tools_enabled ? ["cloudscheduler.googleapis.com"] : [],
  )
}

resource "google_project_service" "enabled" {
  for_each = toset(local.services)

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
