# Who hears about trouble, and what they hear about:
# - an uptime check on /health from several regions;
# - p95 latency over 2 s (warning) / 5 s (critical) for ordinary requests (audio uploads and
#   WebSocket sessions left out: their duration is the user's speech or the conversation);
# - 5xx responses over 1 % / 5 % of requests, once there are enough requests to judge;
# - Cloud SQL near its connection limit, busy CPU, filling disk;
# - a failed migration job.
# All notify alert_email (an e-mail channel made here) and any notification_channels.
locals {
  alerts = var.alerts_enabled ? 1 : 0

  alert_channels = concat(google_monitoring_notification_channel.email[*].id, var.notification_channels)

  severities = {
    warning = {
      severity         = "WARNING"
      latency_p95_ms   = var.latency_p95_warning_ms
      error_rate_ratio = var.error_rate_warning
    }
    critical = {
      severity         = "CRITICAL"
      latency_p95_ms   = var.latency_p95_critical_ms
      error_rate_ratio = var.error_rate_critical
    }
  }

  service_selector = "monitored_resource=\"cloud_run_revision\",service_name=\"${var.service_name}\""
  # Requests a second over 5 minutes: the 5xx alerts need at least this much traffic.
  error_rate_min_rps = var.error_rate_min_requests_per_minute / 60

  # Audio uploads (POST /api/voice) last as long as the upload of the speech; WebSockets
  # (/ws/…, status 101) last the whole conversation. Neither is a slow request.
  latency_log_filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${var.service_name}\"",
    "log_id(\"run.googleapis.com/requests\")",
    "httpRequest.status!=101",
    "NOT httpRequest.requestUrl:\"/ws/\"",
    "NOT httpRequest.requestUrl:\"/api/voice\"",
    # The OpenAI-compatible speech routes: synthesis and transcription take seconds.
    "NOT httpRequest.requestUrl:\"/v1/audio/\"",
  ])

  database_id = "${var.project_id}:${google_sql_database_instance.main.name}"
  # 80 % of the connections the app can open on the tier (cloud_run.tf).
  connections_alert_threshold = floor(local.usable_connections * 0.8)
}

resource "google_monitoring_notification_channel" "email" {
  count = local.alerts

  display_name = "${var.service_name} alerts (${var.alert_email})"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_uptime_check_config" "health" {
  count = var.alerts_enabled && var.image != null ? 1 : 0

  display_name = "${var.service_name} /health"
  # Every 5 minutes from each region: each check is one short request (a few hundred a day
  # per region), which never keeps a billed instance busy.
  period  = "300s"
  timeout = "10s"

  http_check {
    path         = "/health"
    port         = 443
    use_ssl      = true
    validate_ssl = true
    accepted_response_status_codes {
      status_class = "STATUS_CLASS_2XX"
    }
  }

  monitored_resource {
    type = "uptime_url"
    labels = {
      project_id = var.project_id
      host       = trimprefix(google_cloud_run_v2_service.app[0].uri, "https://")
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "uptime" {
  count = length(google_monitoring_uptime_check_config.health)

  display_name          = "${var.service_name}: /health failing"
  severity              = "CRITICAL"
  combiner              = "OR"
  notification_channels = local.alert_channels

  conditions {
    display_name = "/health fails from more than one region"
    condition_threshold {
      filter = join(" AND ", [
        "resource.type = \"uptime_url\"",
        "metric.type = \"monitoring.googleapis.com/uptime_check/check_passed\"",
        "metric.labels.check_id = \"${google_monitoring_uptime_check_config.health[0].uptime_check_id}\"",
      ])
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      duration        = "600s"

      aggregations {
        alignment_period     = "1200s"
        per_series_aligner   = "ALIGN_NEXT_OLDER"
        cross_series_reducer = "REDUCE_COUNT_FALSE"
        group_by_fields      = ["resource.label.*"]
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "${var.service_name} does not answer /health. Read the service's logs and its latest revision's status (DEPLOYMENT.md, When something fails)."
  }
}

# Request latency from the request logs, so that uploads and WebSockets can be left out
# (the built-in run.googleapis.com/request_latencies metric has no path label).
resource "google_logging_metric" "request_latency" {
  count = local.alerts

  name        = "${var.service_name}/request_latency"
  description = "Latency of ${var.service_name}'s requests, audio uploads and WebSockets left out."
  filter      = local.latency_log_filter
  # httpRequest.latency reads like "0.123456s".
  value_extractor = "REGEXP_EXTRACT(httpRequest.latency, \"^([0-9.]+)s$\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "s"
  }

  # Bucket bounds at the alert thresholds, so the p95 is exact where it matters.
  bucket_options {
    explicit_buckets {
      bounds = [0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 8, 13, 30, 60]
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "latency_p95" {
  for_each = var.alerts_enabled ? local.severities : {}

  display_name          = "${var.service_name}: p95 latency over ${each.value.latency_p95_ms / 1000} s"
  severity              = each.value.severity
  combiner              = "OR"
  notification_channels = local.alert_channels

  conditions {
    display_name = "p95 request latency > ${each.value.latency_p95_ms} ms for 5 minutes (uploads and WebSockets left out)"
    condition_threshold {
      filter = join(" AND ", [
        "resource.type = \"cloud_run_revision\"",
        "metric.type = \"logging.googleapis.com/user/${google_logging_metric.request_latency[0].name}\"",
      ])
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.latency_p95_ms / 1000
      duration        = "300s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_PERCENTILE_95"
        group_by_fields      = ["resource.labels.service_name"]
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Requests to ${var.service_name} are slow. Check Cloud SQL load, the AI provider's latency and instance saturation (max ${var.max_instances} × concurrency ${var.concurrency})."
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "error_rate" {
  for_each = var.alerts_enabled ? local.severities : {}

  display_name          = "${var.service_name}: 5xx over ${each.value.error_rate_ratio * 100} % of requests"
  severity              = each.value.severity
  combiner              = "OR"
  notification_channels = local.alert_channels

  conditions {
    display_name = "5xx share > ${each.value.error_rate_ratio} for 5 minutes, with at least ${var.error_rate_min_requests_per_minute} requests a minute"
    condition_prometheus_query_language {
      query = join("", [
        "(sum(rate(run_googleapis_com:request_count{${local.service_selector},response_code_class=\"5xx\"}[5m]))",
        " / sum(rate(run_googleapis_com:request_count{${local.service_selector}}[5m]))",
        " > ${each.value.error_rate_ratio})",
        " and on() (sum(rate(run_googleapis_com:request_count{${local.service_selector}}[5m])) >= ${local.error_rate_min_rps})",
      ])
      duration            = "300s"
      evaluation_interval = "60s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "${var.service_name} is failing requests. Read the service's error logs (severity>=ERROR) and /ready."
  }

  depends_on = [google_project_service.enabled]
}

# Cloud SQL: one policy per resource, each a warning with its own advice.
locals {
  database_alerts = {
    connections = {
      name      = "connections near the limit"
      metric    = "cloudsql.googleapis.com/database/postgresql/num_backends"
      threshold = local.connections_alert_threshold
      duration  = "300s"
      advice    = "More than ${local.connections_alert_threshold} of the ${local.usable_connections} connections the app can open are in use. New connections will soon be refused: check max_instances, db_pool_size and db_max_overflow against the budget in DEPLOYMENT.md (Sizing), and for a stuck migration or proxy session."
    }
    cpu = {
      name      = "CPU over 80 %"
      metric    = "cloudsql.googleapis.com/database/cpu/utilization"
      threshold = 0.8
      duration  = "900s"
      advice    = "The database's CPU has been over 80 % for 15 minutes: look at Query Insights, then consider a larger database_tier."
    }
    disk = {
      name      = "disk over 85 %"
      metric    = "cloudsql.googleapis.com/database/disk/utilization"
      threshold = 0.85
      duration  = "600s"
      advice    = "The database's disk is over 85 % full. It grows by itself up to database_disk_autoresize_limit_gb; raise that, or lower history retention (HISTORY_RETENTION_DAYS)."
    }
  }
}

resource "google_monitoring_alert_policy" "database" {
  for_each = var.alerts_enabled ? local.database_alerts : {}

  display_name          = "${var.service_name} database: ${each.value.name}"
  severity              = "WARNING"
  combiner              = "OR"
  notification_channels = local.alert_channels

  conditions {
    display_name = "${each.value.name} for ${trimsuffix(each.value.duration, "s")} s"
    condition_threshold {
      filter = join(" AND ", [
        "resource.type = \"cloudsql_database\"",
        "resource.labels.database_id = \"${local.database_id}\"",
        "metric.type = \"${each.value.metric}\"",
      ])
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.threshold
      duration        = each.value.duration

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MEAN"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.database_id"]
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = each.value.advice
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "migration_failed" {
  count = var.alerts_enabled && length(google_cloud_run_v2_job.migrate) > 0 ? 1 : 0

  display_name          = "${var.service_name}: migration job failed"
  severity              = "CRITICAL"
  combiner              = "OR"
  notification_channels = local.alert_channels

  conditions {
    display_name = "an execution of ${google_cloud_run_v2_job.migrate[0].name} failed"
    condition_threshold {
      filter = join(" AND ", [
        "resource.type = \"cloud_run_job\"",
        "resource.labels.job_name = \"${google_cloud_run_v2_job.migrate[0].name}\"",
        "metric.type = \"run.googleapis.com/job/completed_execution_count\"",
        "metric.labels.result = \"failed\"",
      ])
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.job_name"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    # A failed migration is one event: close the incident by itself after a day.
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A migration failed. Traffic has not moved to the new image; read the execution's logs (DEPLOYMENT.md, When something fails) and, if it left the schema half-way, follow \"Rolling back a migration\"."
  }

  depends_on = [google_project_service.enabled]
}
