# GOOGLE_SERVICE_ACCOUNT/POOL_PROJECT/NAMESPACE/KSA
terraform import airflowiam_task_identity.etl etl-task@analytics-prod.iam.gserviceaccount.com/gke-platform-prod/airflow/etl-task
