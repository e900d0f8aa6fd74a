import {
  to = airflowiam_gcp_secret_connection.warehouse
  id = "projects/data-platform-prod/secrets/airflow-connections-warehouse"
}
