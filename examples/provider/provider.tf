# Airflow 3: username and password are exchanged once per run for a JWT.
# Every attribute can come from the environment instead (AIRFLOW_URL,
# AIRFLOW_USERNAME, AIRFLOW_PASSWORD, AIRFLOW_TOKEN, AIRFLOW_API_VERSION).
provider "airflowiam" {
  airflow {
    endpoint = "https://airflow.example.com"
    username = "terraform"
    password = var.airflow_password
  }

  # Google: Application Default Credentials, acting as a Terraform service
  # account that may edit service-account IAM policies.
  google {
    impersonate_service_account = "terraform@platform-prod.iam.gserviceaccount.com"
  }

  # AWS: the SDK's default credential chain, in this region.
  aws {
    region = "eu-west-1"
  }
}

variable "airflow_password" {
  type      = string
  sensitive = true
}
