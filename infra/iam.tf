# Two identities, each with only what it uses: the runtime (the Cloud Run service and the
# migration job) and the build (Cloud Build, DEPLOYMENT.md step 4).
resource "google_service_account" "runtime" {
  account_id   = var.runtime_service_account_id
  display_name = "${var.service_name} runtime (Cloud Run service and migration job)"

  depends_on = [google_project_service.enabled]
}

# No logWriter or metricWriter: the app writes its logs to stdout, which Cloud Run collects
# itself, and sends no metrics through the Monitoring API (/metrics is scraped, not pushed).
locals {
  runtime_project_roles = concat(
    ["roles/cloudsql.client"], # the /cloudsql socket
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

# Cloud Build runs as this account (`gcloud builds submit --service-account`): on projects
# created since 2024 the default build account may lack these roles, or not exist at all.
resource "google_service_account" "build" {
  account_id   = var.build_service_account_id
  display_name = "${var.service_name} image builds (Cloud Build)"

  depends_on = [google_project_service.enabled]
}

locals {
  build_project_roles = [
    "roles/logging.logWriter",    # build logs go to Cloud Logging (cloudbuild.yaml)
    "roles/storage.objectViewer", # the source archive gcloud stages in gs://PROJECT_cloudbuild
  ]
}

resource "google_project_iam_member" "build" {
  for_each = toset(local.build_project_roles)

  project = var.project_id
  role    = each.value
  member  = google_service_account.build.member
}

# Pushing images: on this one repository only.
resource "google_artifact_registry_repository_iam_member" "build_push" {
  project    = google_artifact_registry_repository.images.project
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}
