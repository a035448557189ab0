resource "google_artifact_registry_repository" "images" {
  # checkov:skip=CKV_GCP_84:Images hold no customer data; Google-managed encryption avoids a paid KMS key.
  location      = var.region
  repository_id = var.artifact_registry_repo
  format        = "DOCKER"
  description   = "Container images of ${var.service_name}."

  docker_config {
    # A pushed tag never moves: a deployed tag always names the same image.
    immutable_tags = true
  }

  # Storage beyond 0.5 GB is billed: keep the recent releases, drop the rest.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.images_to_keep
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.enabled]
}
