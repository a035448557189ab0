# Alerts from the operator's brief: p95 latency over 2 s (warning) / 5 s (critical) and a
# 5xx share over 1 % / 5 %, sent to the notification channels given as a variable.
locals {
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
}

resource "google_monitoring_alert_policy" "latency_p95" {
  for_each = local.severities

  display_name          = "${var.service_name}: p95 latency over ${each.value.latency_p95_ms / 1000} s"
  severity              = each.value.severity
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "p95 request latency > ${each.value.latency_p95_ms} ms for 5 minutes"
    condition_threshold {
      # A WebSocket's "latency" is its whole session (status 101): leave those out, or every
      # voice conversation would look like a slow request.
      filter = join(" AND ", [
        "resource.type = \"cloud_run_revision\"",
        "resource.labels.service_name = \"${var.service_name}\"",
        "metric.type = \"run.googleapis.com/request_latencies\"",
        "metric.labels.response_code != \"101\"",
      ])
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.latency_p95_ms
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
  for_each = local.severities

  display_name          = "${var.service_name}: 5xx over ${each.value.error_rate_ratio * 100} % of requests"
  severity              = each.value.severity
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "5xx share > ${each.value.error_rate_ratio} for 5 minutes"
    condition_prometheus_query_language {
      query = join("", [
        "sum(rate(run_googleapis_com:request_count{${local.service_selector},response_code_class=\"5xx\"}[5m]))",
        " / sum(rate(run_googleapis_com:request_count{${local.service_selector}}[5m]))",
        " > ${each.value.error_rate_ratio}",
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
