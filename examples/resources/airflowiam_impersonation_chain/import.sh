# SOURCE CHAIN [ROLE], separated by spaces: quote the whole ID.
terraform import airflowiam_impersonation_chain.bigquery \
  'airflow-worker@platform-prod.iam.gserviceaccount.com analytics-delegate@analytics-prod.iam.gserviceaccount.com,bq-loader@analytics-prod.iam.gserviceaccount.com'
