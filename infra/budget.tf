# Optional: e-mails the billing account's admins as spending approaches the budget, to protect
# the trial credits. Created only when billing_account_id is set. A budget alerts; it does not
# stop spending.
data "google_project" "this" {
  project_id = var.project_id

  # Read through the Cloud Resource Manager API, which a fresh project may not have enabled yet.
  depends_on = [google_project_service.enabled]
}

resource "google_billing_budget" "monthly" {
  count = var.billing_account_id == null ? 0 : 1

  # See providers.tf: the Billing Budgets API needs a quota project with user credentials.
  provider = google.billing

  billing_account = var.billing_account_id
  display_name    = "${var.service_name} monthly budget"

  budget_filter {
    projects = ["projects/${data.google_project.this.number}"]
  }

  amount {
    specified_amount {
      currency_code = "USD"
      units         = tostring(var.budget_amount_usd)
    }
  }

  dynamic "threshold_rules" {
    for_each = var.budget_alert_thresholds
    content {
      threshold_percent = threshold_rules.value
    }
  }

  depends_on = [google_project_service.enabled]
}
