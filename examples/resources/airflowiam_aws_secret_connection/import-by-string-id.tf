import {
  to = airflowiam_aws_secret_connection.warehouse
  id = "airflow/connections/warehouse"
}
