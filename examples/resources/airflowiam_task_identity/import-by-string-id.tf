import {
  to = airflowiam_task_identity.etl
  id = "etl-task@analytics-prod.iam.gserviceaccount.com/gke-platform-prod/airflow/etl-task"
}
