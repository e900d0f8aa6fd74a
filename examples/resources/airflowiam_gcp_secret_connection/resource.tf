# The warehouse connection, written where Airflow's CloudSecretManagerBackend
# looks for it: the secret airflow-connections-warehouse, encrypted with a
# customer-managed key. The password never enters plan or state
# (Terraform 1.11+); bump password_wo_version to write a new one.
resource "airflowiam_gcp_secret_connection" "warehouse" {
  project             = "data-platform-prod"
  connection_id       = "warehouse"
  conn_type           = "postgres"
  host                = "warehouse.internal.example.com"
  port                = 5432
  schema              = "analytics"
  login               = "airflow"
  password_wo         = var.warehouse_password
  password_wo_version = 1
  extra               = jsonencode({ sslmode = "require" })

  kms_key_name = "projects/data-platform-prod/locations/global/keyRings/airflow/cryptoKeys/connections"
  labels       = { team = "data-platform" }

  # Only the loader task's identity may read this connection: it is granted
  # roles/secretmanager.secretAccessor on this one secret.
  readers = ["serviceAccount:${airflowiam_task_identity.loader.google_service_account}"]
}

# A connection kept in two regions only, each replica with a key of its own
# region.
resource "airflowiam_gcp_secret_connection" "reporting_api" {
  project       = "data-platform-prod"
  connection_id = "reporting_api"
  conn_type     = "http"
  host          = "https://reporting.example.com"
  format        = "json"

  replication = {
    replicas = [
      { location = "europe-west1", kms_key_name = "projects/data-platform-prod/locations/europe-west1/keyRings/airflow/cryptoKeys/connections" },
      { location = "europe-west4", kms_key_name = "projects/data-platform-prod/locations/europe-west4/keyRings/airflow/cryptoKeys/connections" },
    ]
  }
}

# Airflow's side (airflow.cfg, or AIRFLOW__SECRETS__BACKEND and
# AIRFLOW__SECRETS__BACKEND_KWARGS):
#   [secrets]
#   backend = airflow.providers.google.cloud.secrets.secret_manager.CloudSecretManagerBackend
#   backend_kwargs = {"connections_prefix": "airflow-connections", "project_id": "data-platform-prod"}
# The identities that read a connection need roles/secretmanager.secretAccessor
# on its secret: readers grants it on the secret itself (the warehouse
# connection above); without readers, grant it yourself.

variable "warehouse_password" {
  type      = string
  sensitive = true
  ephemeral = true
}
