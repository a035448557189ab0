output "artifact_registry_repository" {
  description = "Docker repository host and path: push images under it."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "build_service_account" {
  description = "Service account Cloud Build runs as, in the form `gcloud builds submit --service-account` takes (projects/P/serviceAccounts/EMAIL)."
  value       = google_service_account.build.id
}

output "cloud_run_url" {
  description = "HTTPS URL of the service (null until an image is deployed)."
  value       = one(google_cloud_run_v2_service.app[*].uri)
}

output "database_name" {
  description = "Name of the application database."
  value       = google_sql_database.app.name
}

output "database_url_secret" {
  description = "Secret holding DATABASE_URL (its password is the database user's): read it with `gcloud secrets versions access`."
  value       = google_secret_manager_secret.database_url.secret_id
}

output "database_user" {
  description = "Application database user."
  value       = google_sql_user.app.name
}

output "gemini_api_key_secret" {
  description = "Secret to add the Gemini API key to with `gcloud secrets versions add` (null in Vertex AI mode)."
  value       = one(google_secret_manager_secret.gemini_api_key[*].secret_id)
}

output "image_url" {
  description = "Image path to tag builds with (append :TAG)."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}/${var.service_name}"
}

output "instance_connection_name" {
  description = "Cloud SQL connection name (PROJECT:REGION:INSTANCE) for the Auth Proxy and /cloudsql."
  value       = google_sql_database_instance.main.connection_name
}

output "migration_job_name" {
  description = "Cloud Run job that runs `ballsy db upgrade` (null until an image is set)."
  value       = one(google_cloud_run_v2_job.migrate[*].name)
}

output "runtime_service_account" {
  description = "E-mail of the service account the service and job run as."
  value       = google_service_account.runtime.email
}

output "secret_names" {
  description = "Secret Manager secret ids by the environment variable they feed."
  value = merge(
    { DATABASE_URL = google_secret_manager_secret.database_url.secret_id },
    { for k, s in google_secret_manager_secret.gemini_api_key : "GEMINI_API_KEY" => s.secret_id },
    { for k, s in google_secret_manager_secret.metrics_token : "METRICS_TOKEN" => s.secret_id },
    { for k, s in google_secret_manager_secret.wake_token : "WAKE_TOKEN" => s.secret_id },
  )
}

output "service_name" {
  description = "Cloud Run service name."
  value       = var.service_name
}

output "wake_job_name" {
  description = "Cloud Scheduler job that wakes the service for due timers and reminders (null unless tools_enabled and an image is set)."
  value       = one(google_cloud_scheduler_job.wake[*].name)
}
