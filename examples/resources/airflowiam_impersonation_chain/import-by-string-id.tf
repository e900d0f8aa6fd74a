# The ID is the source, the chain joined by commas, and the role, separated
# by spaces. The role may be left out when it is the default Token Creator.
import {
  to = airflowiam_impersonation_chain.bigquery
  id = "airflow-worker@platform-prod.iam.gserviceaccount.com analytics-delegate@analytics-prod.iam.gserviceaccount.com,bq-loader@analytics-prod.iam.gserviceaccount.com roles/iam.serviceAccountTokenCreator"
}
