provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = var.labels
}

# The Billing Budgets API refuses end-user credentials (`gcloud auth application-default
# login`) unless each request names a quota project, and Terraform ignores the quota project
# stored with those credentials. This alias sends X-Goog-User-Project = this project on every
# call; only the budget uses it (the project needs billingbudgets.googleapis.com enabled, and
# the caller serviceusage.services.use on it, which Owner and Editor include).
provider "google" {
  alias = "billing"

  project               = var.project_id
  region                = var.region
  user_project_override = true
  billing_project       = var.project_id

  default_labels = var.labels
}

# Configured alike so preview-only (beta) fields can be adopted resource by resource with
# `provider = google-beta`; nothing here needs a beta field today.
provider "google-beta" {
  project = var.project_id
  region  = var.region

  default_labels = var.labels
}
