provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = var.labels
}

# Configured alike so preview-only (beta) fields can be adopted resource by resource with
# `provider = google-beta`; nothing here needs a beta field today.
provider "google-beta" {
  project = var.project_id
  region  = var.region

  default_labels = var.labels
}
