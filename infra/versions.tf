# Provider pins are exact: the offline checks serve these very versions' schemas
# (tools/schema/*.json), and a test keeps the two equal.
terraform {
  # 1.11: write-only arguments (password_wo, secret_data_wo) keep the database password out of
  # the state's resources; 1.9: a variable's validation may read other variables.
  required_version = ">= 1.11.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "8.7.0"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "8.7.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "3.9.1"
    }
  }
}
